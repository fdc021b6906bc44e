import { randomUUID } from 'node:crypto';
import type { EidFailure, EidPlugin } from '../eids/plugin.js';
import type { Identity } from '../identity/identity.js';
import type { Logger } from '../log.js';
import { currentTraceId } from '../http/request-scope.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import { auditEvents, loginEventFamily, type AuditEvent, type AuditEventName, type AuditFields } from './events.js';
import type { AuditSink } from './sinks.js';
import { storeKey } from '../store/keys.js';
import { whileUnavailable } from '../store/retry.js';

export interface AuditDependencies {
  log: Logger;
  store: Store;
  metrics: Metrics;
  sinks: AuditSink[];
  personalNumbersInClear: boolean;
  /** How long a login can last: how long the broker remembers which of its events were written. */
  loginTtlSeconds: number;
}

/** How long the mark of a login's event is tried while Redis is away: a reconnect takes a fraction of it. */
const MARK_TRIED_FOR_MS = 5_000;

/** One login, as its audit events name it. */
export interface LoginInfo {
  /** The interaction's uid: the events' login_id. */
  uid: string;
  clientId: string;
  ip: string;
  /** The eID, once one was chosen. */
  plugin?: EidPlugin;
  /** The type of the login's authorization_details entry, when it has one (`sign`, `payment`…): it picks the events' family. */
  transactionType?: string;
  /** Backchannel requests (CIBA): what the person is asked for, and who called whom. */
  backchannel?: Pick<AuditFields, 'operation' | 'call_initiator'>;
}

/** How a login ended: a person (with the sub they got) or a failure (an eID's, or one the core decided). */
export type LoginEnding =
  | { identity: Identity; sub: string; acr: string }
  | { failure: Omit<EidFailure, 'error'> & { error: string } };

/**
 * The audit trail: one JSON log line per event (`audit: true`, with `event_id`), also handed to
 * every sink. Events about a login's transitions are written once per transition, whichever
 * instance and however many requests see it: the store remembers which were written.
 */
export class AuditLog {
  readonly #deps: AuditDependencies;
  readonly #log: Logger;
  readonly #pending = new Set<Promise<unknown>>();

  constructor(deps: AuditDependencies) {
    this.#deps = deps;
    this.#log = deps.log.child({ audit: true });
  }

  /** Writes one event now: the log line at once, the sinks in the background. */
  emit(name: AuditEventName, fields: AuditFields): AuditEvent {
    const { id, message } = auditEvents[name];
    const traceId = fields.traceId ?? currentTraceId();
    const event = { event_id: id, event: name } as AuditEvent;
    if (traceId) event.traceId = traceId;
    addDefined(event, fields);
    // Logged before it has a `time`: the line's own (the logger's, as it is written) stands for
    // the event's, and a second key of that name would make the line JSON that strict parsers
    // refuse. The logger has written the line by the time it returns, so the event gets its own
    // `time` after, with no copy of its fields.
    this.#log.info(event, message);
    event.time = new Date().toISOString();
    this.#deps.metrics.countAuditEvent(id);
    for (const sink of this.#deps.sinks) {
      const writing = sink.write(event);
      if (writing === undefined) continue;
      // One step per delivery: it leaves the pending set however it ends.
      const delivery: Promise<void> = writing.then(
        () => void this.#pending.delete(delivery),
        (err: unknown) => {
          this.#pending.delete(delivery);
          this.#deps.metrics.auditSinkFailures.inc({ sink: sink.name });
          this.#deps.log.warn({ sink: sink.name, event_id: id, reason: (err as Error).message }, 'audit sink could not take an event (it is in the log)');
        },
      );
      this.#pending.add(delivery);
    }
    return event;
  }

  /**
   * Resolves when every event handed to the sinks so far has been delivered (or has failed);
   * sinks that hold events back to deliver them together deliver them now.
   */
  async flush(): Promise<void> {
    for (const sink of this.#deps.sinks) void sink.flush?.().catch(() => undefined);
    await Promise.allSettled([...this.#pending]);
  }

  /**
   * A personal number as events show it: masked as its eID's country says (the whole of it
   * without an eID to ask), unless audit.personal_numbers_in_clear.
   */
  #personalNumber(personalNumber: string | undefined, plugin: EidPlugin | undefined): string | undefined {
    if (!personalNumber || this.#deps.personalNumbersInClear) return personalNumber;
    return plugin ? plugin.country.maskPersonalNumber(personalNumber) : '*'.repeat(personalNumber.length);
  }

  /**
   * True the first time the key of `parts` is claimed on any instance during a login's lifetime.
   * The mark holds the claim of the request that wrote it, and its write is tried again while
   * Redis is briefly away: a write whose answer a dropped connection lost may have run, and the
   * request then knows its own mark from another's. Without the claim, that request failed (503)
   * and its Try again found the mark taken: the event was emitted nowhere, not even in the log.
   */
  async #first(...parts: string[]): Promise<boolean> {
    const { store, loginTtlSeconds } = this.#deps;
    const key = storeKey('auditOnce', ...parts);
    const claim = randomUUID();
    return whileUnavailable(() => store.claimLease(key, claim, loginTtlSeconds * 1000), MARK_TRIED_FOR_MS);
  }

  #loginFields(login: LoginInfo): AuditFields {
    const { plugin } = login;
    return {
      source_ip: login.ip,
      client_id: login.clientId,
      login_id: login.uid,
      ...(plugin ? { eid: plugin.id } : {}),
      ...(plugin?.customIdentifier ? { custom_identifier: plugin.customIdentifier } : {}),
      ...login.backchannel,
    };
  }

  /** EID_100005: a client's backend asked for a person on their own device, and the eID started it. */
  backchannelRequested(login: LoginInfo & { plugin: EidPlugin }, details: { personalNumber: string; transactionId: string; acr: string }): void {
    this.emit('backchannel.requested', {
      ...this.#loginFields(login),
      personal_number: this.#personalNumber(details.personalNumber, login.plugin),
      transaction_id: details.transactionId,
      acr: details.acr,
    });
  }

  /** EID_100001, once per login and eID: the person began logging in with it. */
  async loginStarted(login: LoginInfo & { plugin: EidPlugin }, details: { acr?: string; transactionId?: string }): Promise<void> {
    if (!(await this.#first('started', login.uid, login.plugin.id))) return;
    const kind = loginEventFamily(login.transactionType);
    this.emit(`${kind}.started`, {
      ...this.#loginFields(login),
      ...(details.acr ? { acr: details.acr } : {}),
      ...(details.transactionId ? { transaction_id: details.transactionId } : {}),
    });
    this.#deps.metrics.logins.inc({ eid: login.plugin.id, kind, result: 'started' });
  }

  /**
   * EID_100002 (a person), EID_100004 (cancelled or expired) or EID_100003 (any other failure),
   * once per login: later requests that see the same ending (a poll after the end) write nothing.
   */
  async loginEnded(login: LoginInfo, ending: LoginEnding): Promise<void> {
    if (!(await this.#first('ended', login.uid))) return;
    const eid = login.plugin?.id ?? 'none';
    const kind = loginEventFamily(login.transactionType);
    if ('identity' in ending) {
      const { identity } = ending;
      const personalNumber = this.#personalNumber(identity.PersonalNumber, login.plugin);
      this.emit(`${kind}.completed`, {
        ...this.#loginFields(login),
        transaction_id: identity.IdProviderRequestId,
        sub: ending.sub,
        acr: ending.acr,
        device_ip: identity.DeviceIpAddress,
        ...(personalNumber ? { personal_number: personalNumber } : {}),
      });
      this.#deps.metrics.logins.inc({ eid, kind, result: 'completed' });
      return;
    }
    const { failure } = ending;
    const cancelled = failure.ending === 'cancelled' || failure.ending === 'expired';
    this.emit(`${kind}.${cancelled ? 'cancelled' : 'failed'}`, {
      ...this.#loginFields(login),
      ...(failure.transactionId ? { transaction_id: failure.transactionId } : {}),
      error: failure.error,
      message: failure.description,
      ...(cancelled ? { ending: failure.ending } : {}),
    });
    this.#deps.metrics.logins.inc({ eid, kind, result: cancelled ? 'cancelled' : 'failed' });
    this.#deps.metrics.loginFailures.inc({ eid, error: failure.error });
  }
}

/** Adds to `event` the fields that say something (neither undefined nor empty), in their order. */
function addDefined(event: AuditEvent, fields: AuditFields): void {
  const into = event as unknown as Record<string, unknown>;
  for (const name in fields) {
    const value = fields[name as keyof AuditFields];
    if (value !== undefined && value !== '') into[name] = value;
  }
}
