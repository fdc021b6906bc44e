import { randomBytes } from 'node:crypto';
import { PollInProgressError, StoreUnavailableError, withPayload, type EidOutcome, type Logger, type LoginRequest, type PageRenderer, type PollStatus, type StartOptions, type StartResult } from '../../src/eids/sdk.js';
import { sweden } from '../countries/se.js';
import { BankIdApiError, type BankIdClient } from './api/client.js';
import type { AuthRequest, CollectResponse, OrderResponse, Requirement } from './api/types.js';
import { personOf, refusalOf } from './completion.js';
import { evidenceOf, grantedDetails } from './evidence.js';
import type { BankIdRequirement, BankIdSettings } from './config.js';
import { deviceInput, isMobile } from '../shared/app-page.js';
import { launchUrl } from './launch.js';
import { begunOrder, orderVersion, type OrderRecord, type OrderStore } from './orders.js';
import { apiErrorEnding, brokerEnding, failedEnding, pendingMessage, type MessageContext } from './outcomes.js';
import { GivenUpTransactions, recordOrCancel } from '../shared/begun-transactions.js';
import { savedOrStopped } from '../shared/login-records.js';
import { failedFinal, presentFinal, type FailedEnding, type FinalRecord } from '../shared/endings.js';
import { QrCodes } from './qr.js';
import { operationOf, orderTransaction } from './transactions.js';

export const acrValues = {
  any: 'urn:nordic-eid:se:bankid',
  this: 'urn:nordic-eid:se:bankid:same-device',
  other: 'urn:nordic-eid:se:bankid:other-device',
} as const;

/** The device an acr value fixes, if it fixes one. */
function deviceOf(acr: string | undefined): 'this' | 'other' | undefined {
  if (acr === acrValues.this) return 'this';
  if (acr === acrValues.other) return 'other';
  return undefined;
}

/**
 * The stricter value of each requirement a client may raise a configured one to. A client's
 * bankid_requirement fills in what the configuration leaves out; where the configuration sets a
 * value, the client's counts only when it is this stricter one (pinCode or mrtd true, cardReader
 * class2). So a client registered at runtime can never loosen what the operator configured.
 */
const stricter: Partial<Record<keyof BankIdRequirement, unknown>> = { pinCode: true, mrtd: true, cardReader: 'class2' };

export function clientRequirement(configured: BankIdRequirement, client: BankIdRequirement | undefined): Requirement {
  const merged: Record<string, unknown> = { ...client, ...configured };
  for (const [key, value] of Object.entries(stricter)) {
    if (client?.[key as keyof BankIdRequirement] === value) merged[key] = value;
  }
  return merged as Requirement;
}

/** Hint codes while the order waits for the app to pick it up: the QR code is shown only then. */
const awaitingPickup = new Set([undefined, 'outstandingTransaction', 'noClient']);

/** Whether the person should see the order's animated QR code now. */
export function showsQrCode(order: OrderRecord): boolean {
  return order.device === 'other' && !order.final && awaitingPickup.has(order.hintCode);
}

const PERSONAL_NUMBER_HINT = /^personal_number:(.+)$/;

/** An error that says BankID is failing for a moment rather than refusing this request. */
function isPassingOutage(err: unknown): boolean {
  return err instanceof BankIdApiError && (err.isOutage || err.errorCode === 'circuitOpen');
}

/** Where a poll finds the login's order, collected when due (WaitingOrders). */
export interface PolledOrders {
  polled(login: LoginRequest): Promise<OrderRecord | undefined>;
}

export interface BankIdLoginDependencies {
  id: string;
  issuer: string;
  client: BankIdClient;
  orders: OrderStore;
  settings: BankIdSettings;
  views: PageRenderer;
  log: Logger;
  /** In simulator mode: the simulated app's page, which the launch link opens. */
  simulatedAppUrl?: string;
}

/**
 * One Swedish BankID login: secure start only. Another device scans an animated QR code whose
 * content the server computes every second; this device is started with its autostart token and
 * comes back through a returnUrl carrying a nonce. Pages wait on an event stream (WaitingOrders)
 * or poll; either way the broker collects from BankID at most once per poll_frequency per order,
 * on whichever instance holds the order's collect lease.
 */
export class BankIdLogin {
  readonly #deps: BankIdLoginDependencies;
  readonly #allowedMs: number;
  /** Logins whose poll runs on this instance now: a second poll of one of them meanwhile gets 429. */
  readonly #polling = new Set<string>();
  readonly #qrCodes = new QrCodes();
  /** The status last made for each login request, and the order it was made from (see `status`). */
  readonly #statuses = new WeakMap<LoginRequest, { order: OrderRecord; status: PollStatus }>();
  /** Orders a collect here ended while BankID still ran them (out of time): cancelled there once stored as ended. */
  readonly #givenUp = new GivenUpTransactions<OrderRecord>();

  constructor(deps: BankIdLoginDependencies) {
    this.#deps = deps;
    this.#allowedMs = deps.settings.allowed_polling_for_minutes * 60_000;
  }

  async start(login: LoginRequest, options: StartOptions): Promise<StartResult> {
    const device = deviceOf(login.acr) ?? deviceInput(options);
    if (!device) return { status: this.#deviceQuestion(login) };
    const context = { device, mobile: isMobile(login.userAgent) };

    const requirement = this.#requirement(login);
    if (!requirement) return { status: this.#ending(login, brokerEnding('badLoginHint', context)) };

    // The earlier order goes first: BankID refuses a second live order for one person. It stays
    // stored until this one replaces it, so that a start racing this one still finds it.
    const earlier = await this.#deps.orders.get(login.uid);
    if (earlier) await this.#cancelAtBankId(earlier);
    const now = this.#deps.orders.now();
    const returnNonce = device === 'this' ? randomBytes(16).toString('base64url') : undefined;
    let order: OrderRecord;
    try {
      const created = await this.#order(login, requirement, returnNonce);
      order = {
        device,
        acr: acrValues[device],
        ...created,
        // QR time counts from BankID's order, which exists only once the call has returned.
        orderedAt: this.#deps.orders.now(),
        firstOrderedAt: now,
        requirement,
        ...(returnNonce ? { returnNonce } : {}),
      };
    } catch (err) {
      return { status: this.#ending(login, this.#apiFailure(err, context)) };
    }
    this.#deps.log.info({ orderRef: order.orderRef, device }, 'BankID order started');
    // Starts of one login racing each other (a double click, a script) each push the earlier
    // order out; whoever pushed one out cancels it, so a login never holds two live orders. An
    // order the store cannot take is cancelled at BankID, and the start answers 503.
    const replaced = await recordOrCancel(() => this.#deps.orders.replace(login.uid, order), begunOrder(this.#deps.client, order.orderRef), this.#deps.log);
    if (replaced && replaced.orderRef !== earlier?.orderRef) await this.#cancelAtBankId(replaced);
    return { status: this.#pollStatus(login, order, { qr: device === 'other' }), transactionId: order.orderRef };
  }

  /** A poll: the order as `orders` has it (WaitingOrders: in memory while the login is polled or watched here). */
  async poll(login: LoginRequest, options: { qr: boolean }, orders: PolledOrders): Promise<PollStatus> {
    if (this.#polling.has(login.uid)) throw new PollInProgressError();
    this.#polling.add(login.uid);
    try {
      const order = await orders.polled(login);
      if (!order) return this.#deviceQuestion(login);
      return this.#pollStatus(login, order, options);
    } finally {
      this.#polling.delete(login.uid);
    }
  }

  /**
   * Collects the order from BankID unless someone, on any instance, has within poll_frequency
   * (the order's lease). A changed order is saved, which tells every instance. No order (undefined)
   * when its login turned out to be gone from the store: the order is stopped at BankID.
   */
  async collectIfDue(login: LoginRequest, order: OrderRecord): Promise<{ order: OrderRecord | undefined; collected: boolean }> {
    if (!(await this.#deps.orders.lease(order.orderRef))) return { order, collected: false };
    const next = await this.#collect(login, order);
    if (orderVersion(next) === orderVersion(order)) return { order: next, collected: true };
    const stored = await savedOrStopped(() => this.#store(login.uid, order, next), () => this.stopLost(next));
    return { order: stored ? next : undefined, collected: true };
  }

  /**
   * Saves a collected order so that BankID runs nothing the store does not know of: a new order
   * (a QR code's restart) is cancelled at BankID when it cannot be stored, and an order given up
   * on is cancelled there only once stored as ended. Cancelled first, a failed save would leave
   * the store waiting on an order BankID no longer has, whose next collect BankID refuses: the
   * login would end as the broker's error rather than as out of time.
   */
  async #store(uid: string, order: OrderRecord, next: OrderRecord): Promise<void> {
    const { client, orders, log } = this.#deps;
    const save = () => orders.save(uid, next);
    if (next.orderRef === order.orderRef) await save();
    else await recordOrCancel(save, begunOrder(client, next.orderRef), log);
    await this.#givenUp.cancelIfGivenUp(next, () => this.#cancelAtBankId(order));
  }

  /**
   * Stops the order at BankID, if one is running; BankID's refusal (already finished) changes
   * nothing. A person going back from an ending they could have tried again ends the login with
   * that ending.
   */
  async cancel(login: LoginRequest): Promise<EidOutcome | undefined> {
    const order = await this.#deps.orders.take(login.uid);
    if (!order) return undefined;
    await this.#cancelAtBankId(order);
    return order.final?.retry ? order.final.outcome : undefined;
  }

  /**
   * Stops an order the store lost (Redis restarted empty, its login with it): nobody can collect
   * it any more, so it is not left in the person's app until it runs out. An order
   * that has ended at BankID meanwhile (approved, cancelled elsewhere) makes BankID refuse, which
   * changes nothing.
   */
  async stopLost(order: OrderRecord): Promise<void> {
    await this.#cancelAtBankId(order);
  }

  async #cancelAtBankId(order: OrderRecord): Promise<void> {
    if (order.final) return;
    await this.#deps.client.cancel(order.orderRef).catch((err: unknown) => {
      this.#deps.log.info({ orderRef: order.orderRef, reason: (err as Error).message }, 'BankID cancel refused');
    });
  }

  /** The nonce this login's same-device order sent as its returnUrl. */
  async returnNonce(login: LoginRequest): Promise<string | undefined> {
    return (await this.#deps.orders.get(login.uid))?.returnNonce;
  }

  #deviceQuestion(login: LoginRequest): PollStatus {
    const messageCode = isMobile(login.userAgent) ? 'RFA20' : 'RFA19';
    return { status: 'NOT_STARTED', messageCode, message: this.#message(login, messageCode) };
  }

  /**
   * The configured requirement with the client's bankid_requirement over it, plus the one person
   * a client may restrict the login to: what the broker requires of the completed order. A client
   * adds to the configured requirement and may make it stricter, never looser: see
   * clientRequirement. BankID is told the person only for a proven hint (see #sentRequirement).
   */
  #requirement(login: LoginRequest): Requirement | undefined {
    const base = clientRequirement(this.#deps.settings.requirement, login.clientMetadata?.bankid_requirement as BankIdRequirement | undefined);
    const hinted = PERSONAL_NUMBER_HINT.exec(login.loginHint ?? '')?.[1];
    if (hinted === undefined) return base;
    const personalNumber = sweden.personalNumbers.normalize(hinted);
    return personalNumber && /^\d{12}$/.test(hinted) ? { ...base, personalNumber } : undefined;
  }

  /**
   * Starts the order the login asks for: a login (`/auth`, with a message to show when the client
   * sent one), a signature (`/sign`) or a payment (`/payment`), from its authorization_details.
   */
  #order(login: LoginRequest, requirement: Requirement, returnNonce: string | undefined): Promise<OrderResponse> {
    const { endpoint, fields } = orderTransaction(login.authorizationDetails);
    return this.#deps.client.order(endpoint, { ...this.#authRequest(login, requirement, returnNonce), ...fields });
  }

  /**
   * What BankID is told of the requirement. A person's number goes only with a hint the client
   * proved: BankID cancels a person's running order when a second one names them
   * (alreadyInProgress), so a plain URL, which anyone can write with anyone's number, would let a
   * stranger abort that person's logins and signatures. An unproven hint still binds the login:
   * the completed order is refused when anyone else made it (refusalOf, wrongPerson).
   */
  #sentRequirement(login: LoginRequest, requirement: Requirement): Requirement {
    if (login.loginHintProven) return requirement;
    const sent = { ...requirement };
    delete sent.personalNumber;
    return sent;
  }

  #authRequest(login: LoginRequest, required: Requirement, returnNonce: string | undefined): AuthRequest {
    const { issuer, id, settings } = this.#deps;
    const userAgent = login.userAgent.slice(0, 256);
    const requirement = this.#sentRequirement(login, required);
    return {
      endUserIp: login.ip,
      ...(Object.keys(requirement).length ? { requirement } : {}),
      ...(returnNonce ? { returnUrl: `${issuer}/interaction/${login.uid}/${id}/return?nonce=${returnNonce}` } : {}),
      returnRisk: settings.return_risk,
      web: {
        referringDomain: new URL(issuer).hostname,
        ...(userAgent ? { userAgent } : {}),
        deviceIdentifier: login.browserId.slice(0, 64),
      },
    };
  }

  async #collect(login: LoginRequest, order: OrderRecord): Promise<OrderRecord> {
    const context = { device: order.device, mobile: isMobile(login.userAgent) };
    try {
      const response = await this.#deps.client.collect(order.orderRef);
      return await this.#advance(login, order, response, context);
    } catch (err) {
      const ending = this.#apiFailure(err, context);
      // BankID away for a moment (no answer, a 5xx, its circuit open) says nothing about the
      // order, which may well be running in the person's app: the login waits, and the next
      // collect asks again, until the login's allowed time is spent.
      if (isPassingOutage(err) && this.#deps.orders.now() - order.firstOrderedAt < this.#allowedMs) return order;
      return { ...order, final: this.#final(ending, { orderRef: order.orderRef }) };
    }
  }

  async #advance(login: LoginRequest, order: OrderRecord, response: CollectResponse, context: MessageContext): Promise<OrderRecord> {
    const { log, orders, settings } = this.#deps;
    const withinTime = this.#deps.orders.now() - order.firstOrderedAt < this.#allowedMs;
    if (response.status === 'complete') {
      const completedAt = new Date();
      const refusal = refusalOf(response.completionData, order.requirement);
      if (refusal) {
        log.warn({ orderRef: order.orderRef, refusal }, 'BankID completion refused');
        return { ...order, final: this.#final(brokerEnding(refusal, context), { orderRef: order.orderRef }) };
      }
      const evidence = evidenceOf(order.orderRef, response.completionData, completedAt);
      await orders.keepEvidence(order.orderRef, evidence, settings.evidence_ttl);
      const person = personOf(order.orderRef, response.completionData, completedAt);
      const { authorizationDetails } = login;
      return {
        ...order,
        final: {
          status: 'COMPLETE',
          outcome: { person, acr: order.acr, amr: ['mfa'], ...(authorizationDetails ? { authorizationDetails: grantedDetails(authorizationDetails, evidence) } : {}) },
        },
      };
    }
    if (response.status === 'failed') {
      // A QR code nobody scanned in time: start a new order silently while the login may still wait.
      if (response.hintCode === 'startFailed' && order.device === 'other' && withinTime) return this.#restart(login, order, context);
      const ending = failedEnding(response.hintCode, context);
      return { ...order, hintCode: response.hintCode, final: this.#final(ending, { hintCode: response.hintCode, orderRef: order.orderRef }) };
    }
    if (!withinTime) {
      return this.#givenUp.giveUp({ ...order, final: this.#final(brokerEnding('gaveUp', context), { orderRef: order.orderRef }) });
    }
    return { ...order, hintCode: response.hintCode };
  }

  async #restart(login: LoginRequest, order: OrderRecord, context: MessageContext): Promise<OrderRecord> {
    try {
      const created = await this.#order(login, order.requirement, undefined);
      this.#deps.log.info({ orderRef: created.orderRef, replaces: order.orderRef }, 'BankID QR order restarted');
      return { ...order, ...created, orderedAt: this.#deps.orders.now(), hintCode: undefined };
    } catch (err) {
      return { ...order, final: this.#final(this.#apiFailure(err, context), { orderRef: order.orderRef }) };
    }
  }

  #apiFailure(err: unknown, context: MessageContext): FailedEnding {
    if (err instanceof StoreUnavailableError || !(err instanceof BankIdApiError)) throw err;
    this.#deps.log.warn({ errorCode: err.errorCode, status: err.status }, 'BankID refused a call');
    return apiErrorEnding(err.errorCode, context);
  }

  /**
   * A failed ending; `orderRef` names the order it ended. An order that ran and ended in a way a
   * new try may mend offers it (`retry`): the login is then not over until the person starts
   * again or goes back.
   */
  #final(ending: FailedEnding, { hintCode, orderRef }: { hintCode?: string | undefined; orderRef?: string } = {}): FinalRecord {
    this.#deps.log.info({ loginStatus: ending.status, hintCode, error: ending.error, orderRef }, 'BankID login ended');
    return failedFinal(ending, { transactionId: orderRef, hintCode });
  }

  #ending(login: LoginRequest, ending: FailedEnding): PollStatus {
    const final = this.#final(ending);
    return { ...final, message: this.#message(login, ending.messageCode) };
  }

  /** The recommended message in the person's language; a signature or payment has its own wording where a login's would be wrong. */
  #message(login: LoginRequest, messageCode: string): string {
    const t = this.#deps.views.translator(login.locale);
    const general = t(`${this.#deps.id}.${messageCode}`);
    const operation = operationOf(login.authorizationDetails);
    return operation ? t(`${this.#deps.id}.${operation}.${messageCode}`, {}, general) : general;
  }

  /**
   * The order as the person's page shows it (the QR code aside): a final status carries the
   * outcome. Made once per order version and login request, not at every poll or frame: it
   * changes only when the order does (a new record) or the request does (another language, user
   * agent, which makes a new login request), so the one made last for them is shown again.
   */
  status(login: LoginRequest, order: OrderRecord): PollStatus {
    const kept = this.#statuses.get(login);
    if (kept?.order === order) return kept.status;
    const status = Object.freeze(this.#newStatus(login, order));
    this.#statuses.set(login, { order, status });
    return status;
  }

  #newStatus(login: LoginRequest, order: OrderRecord): PollStatus {
    if (order.final) return presentFinal(order.final, (messageCode) => this.#message(login, messageCode));
    const messageCode = pendingMessage(order.hintCode ?? 'outstandingTransaction', { device: order.device, mobile: isMobile(login.userAgent) });
    return {
      status: 'IN_PROGRESS',
      hintCode: order.hintCode ?? 'outstandingTransaction',
      messageCode,
      message: this.#message(login, messageCode),
      ...(order.device === 'this'
        ? { payload: { autoStartToken: order.autoStartToken, launchUrl: launchUrl(order.autoStartToken, login.userAgent, this.#deps.simulatedAppUrl) } }
        : {}),
    };
  }

  /** The status with this second's QR code, for pages that poll. */
  #pollStatus(login: LoginRequest, order: OrderRecord, options: { qr: boolean }): PollStatus {
    const status = this.status(login, order);
    if (!options.qr || !showsQrCode(order)) return status;
    return withPayload(status, { qrCode: this.#qrCodes.of(order, this.#deps.orders.now()) });
  }
}
