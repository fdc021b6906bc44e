import { isIP } from 'node:net';
import { invalidParameters } from './errors.js';

export type OrderKind = 'auth' | 'sign' | 'payment' | 'phone/auth' | 'phone/sign';

/** Orders for a person in a call with the service: started by personal number, no QR code or autostart. */
export function isPhoneKind(kind: OrderKind): boolean {
  return kind.startsWith('phone/');
}

export type JsonObject = Record<string, unknown>;

export interface OrderRequirement {
  pinCode?: boolean;
  mrtd?: boolean;
  cardReader?: 'class1' | 'class2';
  certificatePolicies?: string[];
  personalNumber?: string;
}

/** An order's request body once it has passed the checks below. */
export interface OrderRequest {
  /** Every kind but the phone ones. */
  endUserIp?: string;
  /** The phone kinds: whose phone, and who called whom (the person the service, or the service the person). */
  personalNumber?: string;
  callInitiator?: 'user' | 'RP';
  requirement?: OrderRequirement;
  userVisibleData?: string;
  userNonVisibleData?: string;
  userVisibleDataFormat?: 'simpleMarkdownV1';
  returnUrl?: string;
  returnRisk?: boolean;
  web?: { referringDomain?: string; userAgent?: string; deviceIdentifier?: string };
  /** Payment only: what the app shows the person to approve. */
  userVisibleTransaction?: {
    transactionType: 'card' | 'npa';
    recipient: { name: string };
    money?: { amount: string; currency: string };
    riskWarning?: string;
  };
  riskFlags?: string[];
  app?: { appIdentifier?: string; deviceOS?: string; deviceModelName?: string; deviceIdentifier?: string };
}

/** Why a value is refused, naming it by `path`; undefined when it is acceptable. */
type Rule = (value: unknown, path: string) => string | undefined;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const TWELVE_DIGITS = /^\d{12}$/;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON null counts as leaving the field out, as serializers that write nulls expect. */
function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

function rule(accepts: (value: unknown) => boolean, expected: string): Rule {
  return (value, path) => (accepts(value) ? undefined : `${path} must be ${expected}`);
}

function text(min: number, max: number): Rule {
  return rule(
    (value) => typeof value === 'string' && value.length >= min && value.length <= max,
    `a string of ${min} to ${max} characters`,
  );
}

function base64(max: number): Rule {
  return rule(
    (value) => typeof value === 'string' && value.length >= 1 && value.length <= max && BASE64.test(value),
    `base64 of 1 to ${max} characters`,
  );
}

function oneOf(...allowed: string[]): Rule {
  return rule((value) => allowed.includes(value as string), `one of ${allowed.join(', ')}`);
}

const boolean = rule((value) => typeof value === 'boolean', 'true or false');
const ipAddress = rule((value) => typeof value === 'string' && isIP(value) !== 0, 'an IPv4 or IPv6 address');
const twelveDigits = rule((value) => typeof value === 'string' && TWELVE_DIGITS.test(value), '12 digits');
const listOfStrings = rule(
  (value) => Array.isArray(value) && value.every((item) => typeof item === 'string'),
  'a list of strings',
);

function object(fields: Record<string, Rule>, required: readonly string[] = []): Rule {
  return (value, path) => {
    if (!isJsonObject(value)) return `${path} must be an object`;
    const missing = required.find((name) => isAbsent(value[name]));
    if (missing) return `${fieldPath(path, missing)} is required`;
    for (const [name, check] of Object.entries(fields)) {
      const problem = isAbsent(value[name]) ? undefined : check(value[name], fieldPath(path, name));
      if (problem) return problem;
    }
    return undefined;
  };
}

function listOf(allowed: readonly string[]): Rule {
  return rule((value) => Array.isArray(value) && value.length > 0 && value.every((item) => allowed.includes(item as string)), `a list of ${allowed.join(', ')}`);
}

/** The second field may only be given when the first has this value. */
function onlyWhen(field: string, value: string, dependent: string): Rule {
  return (body, path) =>
    isJsonObject(body) && !isAbsent(body[dependent]) && body[field] !== value ? `${fieldPath(path, dependent)} is only allowed when ${field} is ${value}` : undefined;
}

function notBoth(first: string, second: string): Rule {
  return (value) =>
    isJsonObject(value) && !isAbsent(value[first]) && !isAbsent(value[second])
      ? `${first} and ${second} cannot both be given`
      : undefined;
}

function allOf(...rules: Rule[]): Rule {
  return (value, path) => rules.reduce<string | undefined>((problem, next) => problem ?? next(value, path), undefined);
}

function fieldPath(parent: string, name: string): string {
  return parent ? `${parent}.${name}` : name;
}

const requirement = object({
  pinCode: boolean,
  mrtd: boolean,
  cardReader: oneOf('class1', 'class2'),
  certificatePolicies: listOfStrings,
  personalNumber: twelveDigits,
});

const orderFields: Record<string, Rule> = {
  endUserIp: ipAddress,
  requirement,
  userNonVisibleData: base64(200_000),
  userVisibleDataFormat: oneOf('simpleMarkdownV1'),
  returnUrl: text(1, 512),
  returnRisk: boolean,
  web: object({ referringDomain: text(3, 253), userAgent: text(1, 256), deviceIdentifier: text(1, 64) }),
  app: object({ appIdentifier: text(1, 255), deviceOS: text(1, 255), deviceModelName: text(1, 255), deviceIdentifier: text(1, 64) }),
};

const riskFlagNames = [
  'newCard', 'newCustomer', 'newRecipient', 'highRiskRecipient', 'largeAmount', 'foreignCurrency', 'cryptoCurrencyPurchase',
  'moneyTransfer', 'overseasTransaction', 'recurringPayment', 'suspiciousPaymentPattern', 'other',
];

/** A payment's userVisibleTransaction: money (an amount with at most one decimal comma) only for a card. */
const userVisibleTransaction = allOf(
  object(
    {
      transactionType: oneOf('card', 'npa'),
      recipient: object({ name: text(1, 255) }, ['name']),
      money: object(
        { amount: rule((value) => typeof value === 'string' && /^\d+(,\d+)?$/.test(value), 'digits with at most one decimal comma'), currency: rule((value) => typeof value === 'string' && /^[A-Z]{3}$/.test(value), 'an ISO 4217 currency code') },
        ['amount', 'currency'],
      ),
      riskWarning: text(1, 255),
    },
    ['transactionType', 'recipient'],
  ),
  onlyWhen('transactionType', 'card', 'money'),
);

/**
 * The phone API takes no device data (the person is on a call, not in a browser): only whose
 * phone, who called, and what to show. Its requirement has no mrtd and no personalNumber.
 */
const phoneFields: Record<string, Rule> = {
  personalNumber: twelveDigits,
  callInitiator: oneOf('user', 'RP'),
  requirement: object({ pinCode: boolean, cardReader: oneOf('class1', 'class2'), certificatePolicies: listOfStrings }),
  userNonVisibleData: base64(200_000),
  userVisibleDataFormat: oneOf('simpleMarkdownV1'),
};

/**
 * Sign shows the person a whole document and payment a transaction; auth at most a line of
 * context. Only a payment has a transaction and risk flags; the phone API has no payment.
 */
const orderKinds: Record<OrderKind, { fields: Record<string, Rule>; userVisibleDataMax: number; required: string[] }> = {
  auth: { fields: orderFields, userVisibleDataMax: 1_500, required: ['endUserIp'] },
  sign: { fields: orderFields, userVisibleDataMax: 40_000, required: ['endUserIp', 'userVisibleData'] },
  payment: { fields: { ...orderFields, userVisibleTransaction, riskFlags: listOf(riskFlagNames) }, userVisibleDataMax: 40_000, required: ['endUserIp', 'userVisibleTransaction'] },
  'phone/auth': { fields: phoneFields, userVisibleDataMax: 1_500, required: ['personalNumber', 'callInitiator'] },
  'phone/sign': { fields: phoneFields, userVisibleDataMax: 40_000, required: ['personalNumber', 'callInitiator', 'userVisibleData'] },
};

function orderRequestRule(kind: OrderKind): Rule {
  const { fields, userVisibleDataMax, required } = orderKinds[kind];
  const all = { ...fields, userVisibleData: base64(userVisibleDataMax) };
  return allOf(object(all, required), notBoth('web', 'app'));
}

const orderReferenceRule = object({ orderRef: text(1, 100) }, ['orderRef']);

export function readOrderRequest(kind: OrderKind, body: JsonObject): OrderRequest {
  refuseProblem(orderRequestRule(kind)(body, ''));
  return body as unknown as OrderRequest;
}

/** The `{ orderRef }` body of collect and cancel. */
export function readOrderRef(body: JsonObject): string {
  refuseProblem(orderReferenceRule(body, ''));
  return body.orderRef as string;
}

function refuseProblem(problem: string | undefined): void {
  if (problem) throw invalidParameters(problem);
}
