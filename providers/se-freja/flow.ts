import { type EidOutcome, type Logger, PollInProgressError, type LoginRequest, type PageRenderer, type PollStatus, type StartOptions, type StartResult, StoreUnavailableError } from '../../src/eids/sdk.js';
import { randomBytes } from 'node:crypto';
import { deviceInput, deviceOfAcr } from '../shared/app-page.js';
import { qrSvg } from '../shared/qr-svg.js';
import { savedOrStopped, type LoginRecords } from '../shared/login-records.js';
import { GivenUpTransactions, recordOrCancel } from '../shared/begun-transactions.js';
import { FrejaApiError, type FrejaClient } from './api/client.js';
import { RefusedResult, type SigningCertificates } from './api/jws.js';
import { ATTRIBUTES_TO_RETURN, finalStatuses, type AuthResult, type InitAuthRequest, type RegistrationLevel } from './api/types.js';
import { personOf } from './identity.js';
import { apiErrorEnding, brokerEndings, pendingMessage, statusEnding } from './outcomes.js';
import { failedFinal, presentFinal, type FailedEnding, type FinalRecord } from '../shared/endings.js';
import type { TransactionRecord } from './transactions.js';

export const acrValues = {
  any: 'urn:nordic-eid:se:freja',
  this: 'urn:nordic-eid:se:freja:same-device',
  other: 'urn:nordic-eid:se:freja:other-device',
} as const;

/** The device an acr value fixes, if it fixes one. */
export const deviceOf = (acr: string | undefined) => deviceOfAcr(acrValues, acr);

/** What Freja's app opens: the QR code's content, and (with a way back) the launch link on this device. */
export function appLink(authRef: string): string {
  return `frejaeid://bindUserToTransaction?transactionReference=${encodeURIComponent(authRef)}`;
}

/** The QR code shows only until the app has opened the transaction. */
export function showsQrCode(record: TransactionRecord): boolean {
  return record.device === 'other' && !record.final && (record.status ?? 'STARTED') === 'STARTED';
}

function isFinalStatus(status: string): boolean {
  return (finalStatuses as readonly string[]).includes(status);
}

export interface FrejaLoginDependencies {
  id: string;
  issuer: string;
  client: FrejaClient;
  certificates: SigningCertificates;
  records: LoginRecords<TransactionRecord>;
  minRegistrationLevel: RegistrationLevel;
  allowedMs: number;
  views: PageRenderer;
  log: Logger;
  /** In simulator mode: the simulated app's page, which the launch link opens instead of Freja's app. */
  simulatedAppUrl?: string;
}

/**
 * One Freja eID login, always INFERRED (Freja's own recommendation): the person scans a QR code
 * with the app on another device, or opens the app on this one, and approves there; nobody
 * types a personal number. The broker asks Freja for the result at most once per poll_frequency
 * per login, on whichever instance holds the lease, until it is final; an APPROVED result is
 * believed only once its JWS verifies against Freja's certificate.
 */
export class FrejaLogin {
  readonly #deps: FrejaLoginDependencies;
  /** Logins whose poll runs on this instance now: a second poll of one of them meanwhile gets 429. */
  readonly #polling = new Set<string>();
  /** Transactions a fetch here ended while Freja still ran them (out of time): cancelled there once stored as ended. */
  readonly #givenUp = new GivenUpTransactions<TransactionRecord>();

  constructor(deps: FrejaLoginDependencies) {
    this.#deps = deps;
  }

  async start(login: LoginRequest, options: StartOptions): Promise<StartResult> {
    const { client, records, log } = this.#deps;
    const device = deviceOf(login.acr) ?? deviceInput(options);
    if (!device) return { status: this.#deviceQuestion(login) };

    // One live transaction per login: the earlier one is cancelled at Freja first.
    const earlier = await records.get(login.uid);
    if (earlier) await this.#cancelAtFreja(earlier);
    let authRef: string;
    try {
      ({ authRef } = await client.initAuthentication(this.#initRequest()));
    } catch (err) {
      return { status: this.#present(login, this.#final(this.#apiFailure(err))) };
    }
    const record: TransactionRecord = {
      device,
      acr: acrValues[device],
      authRef,
      startedAt: records.now(),
      ...(device === 'this' ? { returnNonce: randomBytes(16).toString('base64url') } : {}),
    };
    log.info({ device }, 'Freja eID transaction started');
    // A transaction the store cannot take is cancelled at Freja, and the start answers 503.
    const replaced = await recordOrCancel(() => records.replace(login.uid, record), { cancel: () => client.cancel(authRef), logged: {} }, log);
    if (replaced && replaced.authRef !== earlier?.authRef) await this.#cancelAtFreja(replaced);
    return { status: await this.#pollStatus(login, record, { qr: device === 'other' }), transactionId: authRef };
  }

  async poll(login: LoginRequest, options: { qr: boolean }): Promise<PollStatus> {
    const record = await this.#deps.records.get(login.uid);
    if (!record) return this.#deviceQuestion(login);
    if (record.final) return this.status(login, record);
    if (this.#polling.has(login.uid)) throw new PollInProgressError();
    this.#polling.add(login.uid);
    try {
      const fetched = (await this.fetchIfDue(login.uid, record)).record;
      return fetched ? await this.#pollStatus(login, fetched, options) : this.#deviceQuestion(login);
    } finally {
      this.#polling.delete(login.uid);
    }
  }

  /**
   * Asks Freja for the result unless someone, on any instance, has within poll_frequency (the
   * lease). A changed record is saved, which tells every instance. A transaction given up on is
   * cancelled at Freja only once stored as ended: cancelled first, a failed save would leave the
   * store waiting on a transaction Freja has ended, whose next result would end the login as
   * cancelled by the broker rather than as out of time. No record (undefined) when its login
   * turned out to be gone from the store: the transaction is stopped at Freja.
   */
  async fetchIfDue(uid: string, record: TransactionRecord): Promise<{ record: TransactionRecord | undefined; fetched: boolean }> {
    if (!(await this.#deps.records.lease(record.authRef))) return { record, fetched: false };
    const next = await this.#fetch(record);
    if (next !== record && !(await savedOrStopped(() => this.#deps.records.save(uid, next), () => this.stopLost(next)))) {
      return { record: undefined, fetched: true };
    }
    await this.#givenUp.cancelIfGivenUp(next, () => this.#cancelAtFreja(record));
    return { record: next, fetched: true };
  }

  /** The person gave up: the transaction is cancelled at Freja; an ending they could have retried ends the login. */
  async cancel(login: LoginRequest): Promise<EidOutcome | undefined> {
    const record = await this.#deps.records.take(login.uid);
    if (!record) return undefined;
    await this.#cancelAtFreja(record);
    return record.final?.retry ? record.final.outcome : undefined;
  }

  /** The nonce of this login's return link. */
  async returnNonce(login: LoginRequest): Promise<string | undefined> {
    return (await this.#deps.records.get(login.uid))?.returnNonce;
  }

  /** The transaction as the person's page shows it: a final status carries the outcome. */
  status(login: LoginRequest, record: TransactionRecord): PollStatus {
    if (record.final) return this.#present(login, record.final);
    const hintCode = record.status ?? 'STARTED';
    const messageCode = pendingMessage(hintCode, record.device);
    const status: PollStatus = { status: 'IN_PROGRESS', hintCode, messageCode, message: this.#message(login, messageCode) };
    if (record.device === 'this' && hintCode === 'STARTED') status.payload = { launchUrl: this.#launchUrl(login, record) };
    return status;
  }

  #initRequest(): InitAuthRequest {
    return {
      userInfoType: 'INFERRED',
      userInfo: 'N/A',
      minRegistrationLevel: this.#deps.minRegistrationLevel,
      attributesToReturn: ATTRIBUTES_TO_RETURN.map((attribute) => ({ attribute })),
    };
  }

  /** This device: Freja's app, told where to send the person back (the simulated app in simulator mode). */
  #launchUrl(login: LoginRequest, record: TransactionRecord): string {
    const { issuer, id, simulatedAppUrl } = this.#deps;
    const back = `${issuer}/interaction/${login.uid}/${id}/return?nonce=${record.returnNonce ?? ''}`;
    const reference = `transactionReference=${encodeURIComponent(record.authRef)}&originAppScheme=${encodeURIComponent(back)}`;
    return simulatedAppUrl ? `${simulatedAppUrl}?${reference}` : `frejaeid://bindUserToTransaction?${reference}`;
  }

  async #fetch(record: TransactionRecord): Promise<TransactionRecord> {
    const withinTime = this.#deps.records.now() - record.startedAt < this.#deps.allowedMs;
    let result: AuthResult;
    try {
      result = await this.#deps.client.getOneResult(record.authRef);
    } catch (err) {
      // Freja away for a moment says nothing about the transaction, which may well be open in
      // the person's app: the login waits, and asks again, until its allowed time is spent.
      if (err instanceof FrejaApiError && (err.isOutage || err.errorCode === 'circuitOpen') && withinTime) return record;
      return { ...record, final: this.#final(this.#apiFailure(err), record.authRef) };
    }
    if (result.status === 'APPROVED') return { ...record, final: await this.#approved(record, result) };
    if (isFinalStatus(result.status) || !['STARTED', 'DELIVERED_TO_MOBILE'].includes(result.status)) {
      return { ...record, final: this.#final(statusEnding(result.status), record.authRef, result.status) };
    }
    if (!withinTime) {
      return this.#givenUp.giveUp({ ...record, final: this.#final(brokerEndings.gaveUp, record.authRef) });
    }
    return result.status === record.status ? record : { ...record, status: result.status };
  }

  async #approved(record: TransactionRecord, result: AuthResult): Promise<NonNullable<TransactionRecord['final']>> {
    const { certificates, minRegistrationLevel, log } = this.#deps;
    try {
      if (typeof result.details !== 'string') throw new RefusedResult('missing');
      const verified = await certificates.verify(result.details, { authRef: record.authRef, minRegistrationLevel });
      const person = personOf(verified);
      if (!person) return this.#final(brokerEndings.notSwedish, record.authRef);
      return { status: 'COMPLETE', hintCode: 'APPROVED', outcome: { person, acr: record.acr, amr: ['mfa'] } };
    } catch (err) {
      if (!(err instanceof RefusedResult)) throw err;
      log.warn({ security: true, reason: err.reason }, "Freja eID's signed result was refused");
      return this.#final(brokerEndings.refusedResult, record.authRef);
    }
  }

  /**
   * Stops a transaction the store lost (Redis restarted empty, its login with it):
   * nobody can fetch its result any more, so it is not left in the person's app until it runs
   * out. One that has ended at Freja meanwhile makes Freja refuse, which changes nothing.
   */
  async stopLost(record: TransactionRecord): Promise<void> {
    await this.#cancelAtFreja(record);
  }

  async #cancelAtFreja(record: TransactionRecord): Promise<void> {
    if (record.final) return;
    await this.#deps.client.cancel(record.authRef).catch((err: unknown) => {
      this.#deps.log.info({ reason: (err as Error).message }, 'Freja eID cancel refused');
    });
  }

  #apiFailure(err: unknown): FailedEnding {
    if (err instanceof StoreUnavailableError || !(err instanceof FrejaApiError)) throw err;
    this.#deps.log.warn({ errorCode: err.errorCode, status: err.status }, 'Freja eID refused a call');
    return apiErrorEnding(err.errorCode, err.status);
  }

  /**
   * A failed ending; `authRef` names the transaction it ended, for the audit event. One that may
   * be mended by trying again offers it (`retry`): the login then waits for the person to start
   * again or go back.
   */
  #final(ending: FailedEnding, authRef?: string, hintCode?: string): FinalRecord {
    this.#deps.log.info({ loginStatus: ending.status, hintCode, error: ending.error }, 'Freja eID login ended');
    return failedFinal(ending, { transactionId: authRef, hintCode });
  }

  #present(login: LoginRequest, final: FinalRecord): PollStatus {
    return presentFinal(final, (messageCode) => this.#message(login, messageCode));
  }

  #deviceQuestion(login: LoginRequest): PollStatus {
    return { status: 'NOT_STARTED', messageCode: 'choose', message: this.#message(login, 'choose') };
  }

  #message(login: LoginRequest, messageCode: string): string {
    return this.#deps.views.translator(login.locale)(`${this.#deps.id}.${messageCode}`);
  }

  /** The status with the QR code, for pages that poll. */
  async #pollStatus(login: LoginRequest, record: TransactionRecord, options: { qr: boolean }): Promise<PollStatus> {
    const status = this.status(login, record);
    if (options.qr && showsQrCode(record)) {
      const payload = appLink(record.authRef);
      status.payload = { ...status.payload, qrCode: { payload, svg: qrSvg(payload) } };
    }
    return status;
  }
}
