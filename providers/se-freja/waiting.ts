import { HttpError, traceScope, type Logger, type LoginRequest, type LoginWatcher } from '../../src/eids/sdk.js';
import { ChangeSubscription } from '../shared/change-subscription.js';
import type { LoginRecords } from '../shared/login-records.js';
import { appLink, showsQrCode, type FrejaLogin } from './flow.js';
import { transactionVersion, type TransactionRecord } from './transactions.js';

/** A login that pages on this instance wait on. */
interface Watched {
  uid: string;
  record: TransactionRecord;
  watchers: Map<LoginWatcher, LoginRequest>;
  timer: NodeJS.Timeout;
  fetching: boolean;
  /**
   * Announcements were lost while the store was away: the record is read again before the next
   * fetch (and each after, until a read succeeds), so that one gone with a Redis restarted
   * empty ends its pages now, not when the person has approved in vain.
   */
  missed: boolean;
}

export interface FrejaWaitingDependencies {
  login: FrejaLogin;
  records: LoginRecords<TransactionRecord>;
  pollFrequencyMs: number;
  log: Logger;
}

/**
 * The logins pages on this instance wait on (the event stream): every poll_frequency each asks
 * Freja for its result, if no instance has within that time (the lease), else reads what the one
 * that did saved. A change made anywhere is announced through the store and reaches the pages
 * on every instance at once. Freja's QR code does not change, so it is sent once, while the app
 * has not opened the transaction.
 */
export class FrejaWaiting {
  readonly #deps: FrejaWaitingDependencies;
  readonly #watched = new Map<string, Watched>();
  readonly #changes: ChangeSubscription;

  constructor(deps: FrejaWaitingDependencies) {
    this.#deps = deps;
    this.#changes = new ChangeSubscription(
      (onChange, onMissed) => deps.records.watchChanges(onChange, onMissed),
      (uid) => void this.#reread(uid),
      // The store was away: a transaction may have changed, or be gone (Redis restarted empty), unannounced.
      () => {
        for (const watched of this.#watched.values()) watched.missed = true;
      },
    );
  }

  async watch(login: LoginRequest, watcher: LoginWatcher): Promise<() => void> {
    await this.#changes.ready();
    let watched = this.#watched.get(login.uid);
    if (!watched) {
      const record = await this.#deps.records.get(login.uid);
      if (!record) throw new HttpError(409, 'invalid_request', 'No Freja eID transaction has been started for this login yet.');
      watched = this.#watched.get(login.uid) ?? this.#add(login.uid, record);
    }
    const current = watched;
    current.watchers.set(watcher, login);
    watcher.status(this.#deps.login.status(login, current.record));
    if (showsQrCode(current.record)) watcher.frame(appLink(current.record.authRef), 0);
    return () => {
      current.watchers.delete(watcher);
      if (!current.watchers.size) this.#drop(current);
    };
  }

  async close(): Promise<void> {
    for (const watched of this.#watched.values()) this.#drop(watched);
    await this.#changes.close();
  }

  #add(uid: string, record: TransactionRecord): Watched {
    const watched: Watched = { uid, record, watchers: new Map(), fetching: false, missed: false, timer: traceScope()(() => setInterval(() => void this.#fetch(watched), this.#deps.pollFrequencyMs)) };
    this.#watched.set(uid, watched);
    return watched;
  }

  #drop(watched: Watched): void {
    clearInterval(watched.timer);
    if (this.#watched.get(watched.uid) === watched) this.#watched.delete(watched.uid);
  }

  async #fetch(watched: Watched): Promise<void> {
    if (watched.fetching || watched.record.final) return;
    watched.fetching = true;
    try {
      if (watched.missed) {
        const stored = await this.#deps.records.get(watched.uid);
        watched.missed = false;
        this.#show(watched, stored);
        if (!stored) await this.#deps.login.stopLost(watched.record);
        if (this.#watched.get(watched.uid) !== watched) return;
      }
      const { record, fetched } = await this.#deps.login.fetchIfDue(watched.uid, watched.record);
      // Another instance (or a polling page) asked Freja: what it learnt is in the store.
      this.#show(watched, fetched ? record : await this.#deps.records.get(watched.uid));
    } catch (err) {
      this.#deps.log.warn({ err }, 'a Freja eID result for waiting pages failed; trying again');
    } finally {
      watched.fetching = false;
    }
  }

  async #reread(uid: string): Promise<void> {
    const watched = this.#watched.get(uid);
    if (!watched) return;
    try {
      this.#show(watched, await this.#deps.records.get(uid));
    } catch (err) {
      this.#deps.log.warn({ err }, 'a changed Freja eID transaction could not be read; the next poll will');
    }
  }

  /** Shows a changed transaction to the pages; one gone (cancelled) ends their streams. */
  #show(watched: Watched, record: TransactionRecord | undefined): void {
    if (this.#watched.get(watched.uid) !== watched) return;
    if (!record) {
      this.#drop(watched);
      for (const watcher of watched.watchers.keys()) watcher.end();
      return;
    }
    if (transactionVersion(record) === transactionVersion(watched.record)) return;
    watched.record = record;
    for (const [watcher, login] of watched.watchers) {
      watcher.status(this.#deps.login.status(login, record));
      if (showsQrCode(record)) watcher.frame(appLink(record.authRef), 0);
    }
  }
}
