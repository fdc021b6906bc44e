import type {
  BackchannelRequest,
  BackchannelRequestInput,
  EidBackchannel,
  EidFailure,
  EidOutcome,
  Logger,
  LoginRequest,
  LoginWatcher,
} from '../../src/eids/sdk.js';
import { sweden } from '../countries/se.js';
import { BankIdApiError, type BankIdClient } from './api/client.js';
import type { PhoneRequest } from './api/types.js';
import type { BankIdRequirement, BankIdSettings } from './config.js';
import { clientRequirement, type BankIdLogin } from './flow.js';
import { orderTransaction } from './transactions.js';
import { begunOrder, type OrderRecord, type OrderStore } from './orders.js';
import { apiErrorEnding } from './outcomes.js';
import { recordOrCancel } from '../shared/begun-transactions.js';
import type { WaitingOrders } from './waiting.js';

/** The acr of a person identified, or a text signed, through BankID's phone API. */
export const PHONE_ACR = 'urn:nordic-eid:se:bankid:phone';

/** A personal number with its century (12 digits, the hyphen optional): the phone API takes no other. */
const TWELVE_DIGIT_FORM = /^\d{8}-?\d{4}$/;

/** BankID's limit for a login's text, counted on the base64 of the UTF-8 text, as BankID counts it. */
const AUTH_TEXT_MAX = 1_500;

const base64Length = (text: string) => Math.ceil(Buffer.byteLength(text, 'utf8') / 3) * 4;

/**
 * Why the request's texts cannot go to BankID, or undefined when they can. The details' own
 * fields and limits were checked with the request (transactions.ts); the phone API has only
 * `/phone/auth` and `/phone/sign`, so no payment.
 */
function textProblem(request: BackchannelRequestInput): string | undefined {
  const { message, authorizationDetails } = request;
  if (authorizationDetails && message !== undefined) return 'binding_message and an authorization_details entry cannot be combined: the entry\'s text is what the person sees';
  if (message !== undefined && base64Length(message) > AUTH_TEXT_MAX) return `binding_message is too long for BankID (at most ${AUTH_TEXT_MAX} characters of base64)`;
  if (orderTransaction(authorizationDetails).endpoint === 'payment') return 'authorization_details of type payment cannot be approved over the phone: BankID\'s phone API signs and identifies only';
  return undefined;
}

/** The requirement the phone API takes: the configured one with the client's, without what only QR and autostart orders know. */
function phoneRequirement(configured: BankIdRequirement, client: BankIdRequirement | undefined): PhoneRequest['requirement'] {
  const { pinCode, cardReader, certificatePolicies } = clientRequirement(configured, client);
  const requirement = { pinCode, cardReader, certificatePolicies };
  const set = Object.entries(requirement).filter(([, value]) => value !== undefined);
  return set.length ? (Object.fromEntries(set) as PhoneRequest['requirement']) : undefined;
}

const encode = (text: string) => Buffer.from(text, 'utf8').toString('base64');

export interface BankIdPhoneDependencies {
  client: BankIdClient;
  /** Stops an order at BankID as for a browser login. */
  login: Pick<BankIdLogin, 'cancel'>;
  orders: OrderStore;
  waiting: WaitingOrders;
  settings: BankIdSettings;
  log: Logger;
}

/**
 * BankID's phone API as the eID's backchannel: `/phone/auth` or `/phone/sign` for a person in a
 * call with the client's organisation. The order is stored and collected like a browser login's
 * (WaitingOrders: one collect per poll_frequency across instances, under the order's lease),
 * with no page waiting on it: the follower is the core, which turns the outcome into tokens.
 */
export class BankIdPhone implements EidBackchannel {
  readonly acr = PHONE_ACR;
  readonly #deps: BankIdPhoneDependencies;

  constructor(deps: BankIdPhoneDependencies) {
    this.#deps = deps;
  }

  check(request: BackchannelRequestInput): { personKey: string } | { problem: string } {
    const personalNumber = TWELVE_DIGIT_FORM.test(request.loginHint.trim()) ? sweden.personalNumbers.normalize(request.loginHint) : undefined;
    if (!personalNumber) return { problem: 'login_hint must be a Swedish personal number of 12 digits (YYYYMMDDNNNN) with a valid check digit' };
    const problem = textProblem(request);
    return problem ? { problem } : { personKey: personalNumber };
  }

  async start(request: BackchannelRequest): Promise<{ transactionId: string } | { failure: EidFailure }> {
    const { client, orders, settings, log } = this.#deps;
    const checked = this.check(request);
    if ('problem' in checked) return { failure: { error: 'invalid_request', description: checked.problem } };
    const personalNumber = checked.personKey;
    const requirement = phoneRequirement(settings.requirement, request.clientMetadata?.bankid_requirement as BankIdRequirement | undefined);
    // The same order as in a browser (transactions.ts), at the phone API's endpoint; a plain
    // login shows the binding_message.
    const { endpoint, fields } = orderTransaction(request.authorizationDetails);
    const { userVisibleData, userVisibleDataFormat, userNonVisibleData } = fields;
    const kind = endpoint === 'sign' ? 'sign' : 'auth';
    const body: PhoneRequest = {
      personalNumber,
      callInitiator: request.callInitiator,
      ...(requirement ? { requirement } : {}),
      ...(request.message !== undefined ? { userVisibleData: encode(request.message) } : {}),
      ...(userVisibleData !== undefined ? { userVisibleData } : {}),
      ...(userVisibleDataFormat ? { userVisibleDataFormat } : {}),
      ...(userNonVisibleData ? { userNonVisibleData } : {}),
    };
    const now = orders.now();
    let orderRef: string;
    try {
      ({ orderRef } = await client.phone(kind, body));
    } catch (err) {
      if (!(err instanceof BankIdApiError)) throw err;
      log.warn({ errorCode: err.errorCode, status: err.status }, 'BankID refused a phone order');
      const { error, description, ending } = apiErrorEnding(err.errorCode, { device: 'phone', mobile: false });
      return { failure: { error, description, ...(ending ? { ending } : {}) } };
    }
    log.info({ orderRef, operation: `phone/${kind}` }, 'BankID phone order started');
    const order: OrderRecord = {
      device: 'phone',
      acr: PHONE_ACR,
      orderRef,
      // The phone API gives no start tokens: the order is in the person's app already.
      autoStartToken: '',
      qrStartToken: '',
      qrStartSecret: '',
      orderedAt: now,
      firstOrderedAt: now,
      requirement: { ...requirement, personalNumber },
    };
    // The person's phone asks about the call at once: an order the store cannot take is
    // cancelled there, and the request fails (503) before the client gets an auth_req_id for it.
    await recordOrCancel(() => orders.replace(phoneOrderUid(request.id), order), begunOrder(client, orderRef), log);
    return { transactionId: orderRef };
  }

  follow(request: BackchannelRequest, ended: (outcome: EidOutcome) => void): Promise<() => void> {
    let done = false;
    const end = (outcome: EidOutcome) => {
      if (done) return;
      done = true;
      ended(outcome);
    };
    // No one can try again on a phone call's order: any ending is the end.
    const watcher: LoginWatcher = {
      status(status) {
        if (status.outcome) end(status.outcome);
      },
      frame: () => undefined,
      end: () => end({ failure: { error: 'access_denied', description: 'The BankID order was cancelled.', ending: 'cancelled' } }),
    };
    return this.#deps.waiting.watch(phoneLogin(request), watcher);
  }

  async cancel(request: BackchannelRequest): Promise<void> {
    await this.#deps.login.cancel(phoneLogin(request));
  }
}

/** Where a backchannel request's order is kept: apart from the interactions' (whose uids never start so). */
function phoneOrderUid(requestId: string): string {
  return `phone-${requestId}`;
}

/** The login the order machinery collects for: no browser, so no address, agent or language of its own. */
function phoneLogin(request: BackchannelRequest): LoginRequest {
  return {
    uid: phoneOrderUid(request.id),
    acr: PHONE_ACR,
    clientId: request.clientId,
    locale: 'en',
    ip: '',
    userAgent: '',
    browserId: '',
    // Collected like a browser's order: a completed one grants these back with BankID's evidence.
    ...(request.authorizationDetails ? { authorizationDetails: request.authorizationDetails } : {}),
  };
}
