import { z } from 'zod';
import { isBlank, isShowable, UNSHOWABLE_TEXT, type AuthorizationDetail } from '../../src/eids/sdk.js';
import type { UserVisibleTransaction } from './api/types.js';

/**
 * The RFC 9396 `authorization_details` types Swedish BankID serves, and how each becomes a BankID
 * order. Shared by every BankID flow that signs or pays (the browser here, the phone through CIBA):
 *
 * - `sign` → `/sign`: the person signs `text` (`userVisibleData`), optionally with `data`
 *   (`userNonVisibleData`, base64, not shown but signed);
 * - `payment` → `/payment`: the person approves `transaction` (`userVisibleTransaction`), with
 *   BankID's `riskFlags` and an optional `text` and `data` as for a signature;
 * - `login_message` → `/auth` with `userVisibleData`: a login that shows the person a short text
 *   ("Log in to Example Bank"), as BankID recommends against fraud.
 *
 * Limits are BankID's: userVisibleData at most 40,000 characters once base64-encoded for a
 * signature or payment and 1,500 for a login, userNonVisibleData at most 200,000.
 */

/** BankID counts its limits in characters of the base64 encoding of the UTF-8 text. */
const base64Length = (text: string) => Math.ceil(Buffer.byteLength(text, 'utf8') / 3) * 4;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function visibleText(maxBase64: number) {
  return z
    .string({ error: 'is required: the text the person sees' })
    .refine((text) => !isBlank(text), 'must not be empty')
    // What BankID shows and signs must be what the tokens echo, and read as it is written.
    .refine((text) => isShowable(text, { lines: true }), UNSHOWABLE_TEXT)
    .refine((text) => base64Length(text) <= maxBase64, `is too long: BankID takes at most ${maxBase64} characters once base64-encoded (about ${(maxBase64 / 4) * 3} bytes of UTF-8)`);
}

/** `plaintext` (the default) or BankID's `simpleMarkdownV1`. */
const format = z.enum(['plaintext', 'simpleMarkdownV1'], { error: 'must be plaintext or simpleMarkdownV1' });

const nonVisibleData = z
  .string()
  .min(1, 'must not be empty')
  .max(200_000, 'is too long: BankID takes at most 200,000 characters of base64')
  .regex(BASE64, 'must be base64 (standard alphabet, with padding)');

/** BankID's risk flags for a payment (`riskFlags`). */
export const riskFlags = [
  'newCard',
  'newCustomer',
  'newRecipient',
  'highRiskRecipient',
  'largeAmount',
  'foreignCurrency',
  'cryptoCurrencyPurchase',
  'moneyTransfer',
  'overseasTransaction',
  'recurringPayment',
  'suspiciousPaymentPattern',
  'other',
] as const;

/**
 * A line of a transaction the person reads in the app and on the page, at most `max` characters.
 * Checked as written before it is trimmed, since trim() takes line breaks, U+2028 and U+FEFF for
 * white space.
 */
const transactionLine = (max: number) =>
  z
    .string()
    .refine((line) => isShowable(line), UNSHOWABLE_TEXT)
    .trim()
    .refine((line) => !isBlank(line), 'must not be empty')
    .max(max, `is too long (at most ${max} characters)`);

/**
 * BankID's `userVisibleTransaction`. The amount is a string with at most one decimal comma, as
 * BankID writes it ("1000,00"); no `money` for an `npa` transaction. BankID publishes no length
 * limits for these texts: the broker's are generous for a name, an amount and a warning.
 */
const transaction = z
  .object({
    type: z.enum(['card', 'npa'], { error: 'must be card or npa' }),
    recipient: z.object({ name: transactionLine(100) }).strict(),
    money: z
      .object({
        amount: z.string().regex(/^\d{1,15}(,\d{1,2})?$/, 'must be digits with at most one decimal comma, e.g. 1000,00'),
        currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code, e.g. SEK'),
      })
      .strict()
      .optional(),
    riskWarning: transactionLine(200).optional(),
  })
  .strict()
  .refine((value) => value.type !== 'npa' || !value.money, { message: 'an npa transaction has no money', path: ['money'] });

export const signDetail = z
  .object({ type: z.literal('sign'), text: visibleText(40_000), format: format.optional(), data: nonVisibleData.optional() })
  .strict();

export const paymentDetail = z
  .object({
    type: z.literal('payment'),
    transaction,
    riskFlags: z.array(z.enum(riskFlags, { error: `must each be one of ${riskFlags.join(', ')}` })).min(1).optional(),
    text: visibleText(40_000).optional(),
    format: format.optional(),
    data: nonVisibleData.optional(),
  })
  .strict();

export const loginMessageDetail = z.object({ type: z.literal('login_message'), text: visibleText(1_500), format: format.optional() }).strict();

/** The types as the plugin declares them (EidPlugin.authorizationDetailsTypes). */
export const bankIdDetailTypes = { sign: signDetail, payment: paymentDetail, login_message: loginMessageDetail };

export type SignDetail = z.output<typeof signDetail>;
export type PaymentDetail = z.output<typeof paymentDetail>;
export type LoginMessageDetail = z.output<typeof loginMessageDetail>;
export type BankIdDetail = SignDetail | PaymentDetail | LoginMessageDetail;

/** The RP API endpoint an order is started at. */
export type OrderEndpoint = 'auth' | 'sign' | 'payment';

/** What a detail adds to a BankID order request, and where it goes. */
export interface OrderTransaction {
  endpoint: OrderEndpoint;
  fields: {
    userVisibleData?: string;
    userVisibleDataFormat?: 'simpleMarkdownV1';
    userNonVisibleData?: string;
    userVisibleTransaction?: UserVisibleTransaction;
    riskFlags?: string[];
  };
}

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** The text fields every type shares: plain text is BankID's default, so only markdown is named. */
function textFields(text: string | undefined, textFormat: string | undefined, data: string | undefined): OrderTransaction['fields'] {
  return {
    ...(text !== undefined ? { userVisibleData: base64(text) } : {}),
    ...(text !== undefined && textFormat === 'simpleMarkdownV1' ? { userVisibleDataFormat: 'simpleMarkdownV1' as const } : {}),
    ...(data !== undefined ? { userNonVisibleData: data } : {}),
  };
}

/** The order a login's details ask for: a plain login (`auth`) when there are none. */
export function orderTransaction(details: readonly AuthorizationDetail[] | undefined): OrderTransaction {
  const detail = details?.[0] as BankIdDetail | undefined;
  if (!detail) return { endpoint: 'auth', fields: {} };
  switch (detail.type) {
    case 'sign':
      return { endpoint: 'sign', fields: textFields(detail.text, detail.format, detail.data) };
    case 'payment': {
      const { type, ...rest } = detail.transaction;
      return {
        endpoint: 'payment',
        fields: {
          ...textFields(detail.text, detail.format, detail.data),
          userVisibleTransaction: { transactionType: type, ...rest },
          ...(detail.riskFlags ? { riskFlags: detail.riskFlags } : {}),
        },
      };
    }
    case 'login_message':
      return { endpoint: 'auth', fields: textFields(detail.text, detail.format, undefined) };
  }
}

/** What a login's page calls its transaction in message keys: `sign`, `payment`, or none for a login. */
export function operationOf(details: readonly AuthorizationDetail[] | undefined): 'sign' | 'payment' | undefined {
  const type = details?.[0]?.type;
  return type === 'sign' || type === 'payment' ? type : undefined;
}

/**
 * What the BankID page shows before the person opens the app: the text to sign (or the message
 * of a login) and a payment's recipient, amount and warning. The page escapes every value; a
 * simpleMarkdownV1 text is shown as written, as plain text, since the app renders it anyway.
 */
export interface ShownTransaction {
  operation: 'sign' | 'payment' | 'login_message';
  text?: string;
  payment?: { type: 'card' | 'npa'; recipient: string; amount?: string; riskWarning?: string };
}

export function shownTransaction(details: readonly AuthorizationDetail[] | undefined): ShownTransaction | undefined {
  const detail = details?.[0] as BankIdDetail | undefined;
  if (!detail) return undefined;
  const text = 'text' in detail && detail.text !== undefined ? { text: detail.text } : {};
  if (detail.type !== 'payment') return { operation: detail.type, ...text };
  const { type, recipient, money, riskWarning } = detail.transaction;
  return {
    operation: 'payment',
    ...text,
    payment: { type, recipient: recipient.name, ...(money ? { amount: `${money.amount} ${money.currency}` } : {}), ...(riskWarning ? { riskWarning } : {}) },
  };
}
