import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { storeKey } from '../store/keys.js';
import { outsideRequest } from '../http/request-scope.js';

/** The expiring set of logins in progress, counted by neb_oidc_active_interactions. */
const ACTIVE_INTERACTIONS_KEY = storeKey('activeInteractions');

/**
 * How long a login's start or end waits to go to the store with the others of the moment: the
 * gauge another instance shows lags by this much at most, and a login pays no command of its own.
 */
const BATCH_MS = 1000;
/** Changes that go at once, without waiting out BATCH_MS: one command's arguments stay few. */
const BATCH_LIMIT = 500;

/**
 * The logins in progress on every instance (neb_oidc_active_interactions): each is tracked in
 * the store from its start until it ends or its interaction expires, so the count is right
 * whichever instance serves which of its requests. Starts and ends are sent in batches, one
 * command each per batch; a login that starts and ends within one batch never reaches the store.
 * What an instance that dies loses is at most one batch: an end lost leaves its login counted
 * until its interaction would have expired, as an abandoned login is.
 */
export class ActiveLogins {
  readonly #store: Store;
  readonly #ttlSeconds: number;
  readonly #log: Logger;
  /** Changes not sent yet, by uid: true for a start, false for an end. */
  #pending = new Map<string, boolean>();
  #timer: NodeJS.Timeout | undefined;
  #prunedAt = 0;

  constructor(store: Store, ttlSeconds: number, log: Logger) {
    this.#store = store;
    this.#ttlSeconds = ttlSeconds;
    this.#log = log;
  }

  started(uid: string): void {
    this.#change(uid, true);
  }

  ended(uid: string): void {
    if (this.#pending.get(uid) === true) this.#pending.delete(uid);
    else this.#change(uid, false);
  }

  /** The count on every instance, with this instance's changes sent first. */
  async count(): Promise<number> {
    await this.flush();
    return this.#store.countTracked(ACTIVE_INTERACTIONS_KEY);
  }

  /** Sends the changes waiting; a failure is logged, and those changes are left out of the count. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const changes = [...this.#pending];
    this.#pending = new Map();
    const uids = (wanted: boolean) => changes.filter(([, started]) => started === wanted).map(([uid]) => uid);
    await this.#send(uids(true), uids(false)).catch((err: unknown) => this.#log.debug({ reason: (err as Error).message }, 'active interactions not tracked'));
  }

  #change(uid: string, started: boolean): void {
    this.#pending.set(uid, started);
    if (this.#pending.size >= BATCH_LIMIT) void this.flush();
    else this.#timer ??= outsideRequest(() => setTimeout(() => void this.flush(), BATCH_MS)).unref();
  }

  async #send(started: string[], ended: string[]): Promise<void> {
    await Promise.all([
      started.length ? this.#store.track(ACTIVE_INTERACTIONS_KEY, started, this.#ttlSeconds) : undefined,
      ended.length ? this.#store.untrack(ACTIVE_INTERACTIONS_KEY, ended) : undefined,
    ]);
    if (started.length) await this.#pruneWhenDue();
  }

  /**
   * A login abandoned midway is never untracked: it stays in the set, dead, until counting
   * prunes it. Counting once per login lifetime while logins start keeps the set to about two
   * lifetimes' worth of logins, whether or not anyone scrapes /metrics.
   */
  async #pruneWhenDue(): Promise<void> {
    if (Date.now() - this.#prunedAt < this.#ttlSeconds * 1000) return;
    this.#prunedAt = Date.now();
    await this.#store.countTracked(ACTIVE_INTERACTIONS_KEY);
  }
}
