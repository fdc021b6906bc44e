/**
 * The state store: everything the broker keeps between requests (oidc-provider models, eID
 * orders, generated keys) goes through this interface, so any number of broker instances
 * can serve one login when it is backed by Redis.
 *
 * Every operation touches exactly one key. That keeps each one atomic on a single Redis, on
 * Sentinel and on Redis Cluster alike, with no need for keys to share a hash slot. Callers
 * that keep several keys in step (a token and its grant index) order their writes so that a
 * crash between two of them leaves only a harmless dangling index entry.
 */
export interface Store {
  /** The record at `key`, or undefined when there is none or it has expired. */
  get(key: string): Promise<StoredRecord | undefined>;

  /**
   * Writes `value` at `key`, expiring after `ttlSeconds` (never, when undefined). A record
   * that was consumed stays consumed: a write never turns a used code back into a fresh one.
   */
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;

  /**
   * Writes `value` at `key` like `set` and returns the value it replaced, in one step: of N
   * concurrent writers each gets a different earlier value, so whoever replaced a thing knows
   * it and can clean up after it.
   */
  replace(key: string, value: string, ttlSeconds?: number): Promise<string | undefined>;

  /** Writes only when no record is at `key`. True when this call wrote it. */
  setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean>;

  /**
   * Writes like `set`, but only over a record at `key`: true when this call wrote it. For a
   * record that may have gone meanwhile (expired, or lost with a Redis restarted empty), which
   * a late write must not make again.
   */
  update(key: string, value: string, ttlSeconds?: number): Promise<boolean>;

  /**
   * Takes the lease at `key` for `ttlMs` when nobody holds it: true when this call took it, on
   * any instance. A lease holds nothing and is never released; it lapses. On Redis a SET NX PX,
   * and the leases asked for in one turn of the event loop go in one script, so that taking the
   * leases of many waiting logins a second stays cheap.
   */
  lease(key: string, ttlMs: number): Promise<boolean>;

  /**
   * Takes the lease at `key` for `ttlMs` with `claim` (a value unique to the caller) in it: true
   * when this call took it, or an earlier try of the same claim did (its answer lost with a
   * dropped connection), false when another holds it. On Redis a SET NX PX, and a GET only when
   * the key is taken; a lease that lease() took holds no claim, and counts as another's.
   */
  claimLease(key: string, claim: string, ttlMs: number): Promise<boolean>;

  /**
   * Marks the record at `key` consumed at `at` (epoch seconds), exactly once across all
   * callers and instances: of N concurrent calls, one gets 'consumed' and the rest 'already'.
   * A `claim` (a value unique to this call) is kept with the mark, so that release can undo it.
   */
  consume(key: string, at: number, claim?: string): Promise<ConsumeResult>;

  /**
   * Undoes the consume made with `claim`, when the record still carries that claim; any other
   * consume stays. On Redis it is sent on the connection the consume went on, so it runs after
   * that consume even when the consume's answer never came (a timeout whose command ran later).
   */
  release(key: string, claim: string): Promise<void>;

  /** Removes the records at `keys`; absent keys are ignored. */
  delete(...keys: string[]): Promise<void>;

  /**
   * Adds `member` to the set at `key`. The set lives at least `ttlSeconds` from now (it never
   * shortens a longer lifetime), or forever when undefined.
   */
  addToSet(key: string, member: string, ttlSeconds?: number): Promise<void>;

  /** The members of the set at `key`; empty when there is none. */
  members(key: string): Promise<string[]>;

  /** Takes `member` out of the set at `key`; an absent member or set is ignored. */
  removeFromSet(key: string, member: string): Promise<void>;

  /**
   * Adds `by` (one unless given; less than zero to give back) to the counter at `key` and returns
   * the new count, with `ttlMs`, the milliseconds left before the counter expires, at least when
   * the count is above `ttlAbove` (always, without it). The first increment starts the counter's
   * lifetime of `ttlSeconds`; later ones never extend it, so a counter counts one fixed window
   * (rate limits). A rate limit needs the lifetime only to say when to retry: asking for it only
   * then saves Redis a command on every request within the limit.
   */
  increment(key: string, ttlSeconds: number, by?: number, ttlAbove?: number): Promise<CounterCount>;

  /**
   * Several counters at once, each by increment's rules, all with a lifetime of `ttlSeconds`;
   * the counts in the same order. One command where the store can (Redis runs them in one
   * script; on a Cluster, where the keys may live in different slots, one script each in the
   * same round trip): a rate limit counts the address and the client of every request.
   */
  incrementAll(counters: readonly CounterIncrement[], ttlSeconds: number): Promise<CounterCount[]>;

  /**
   * Appends entries to the stream at `key` in their order, keeping about the newest `maxLength`
   * entries (a Redis stream; the audit events' built-in sink). Many entries go in one round trip.
   * `batch` names the append, uniquely: an append under a name already used within
   * APPENDED_MARK_MS appends nothing, so that one whose answer was lost with the connection (it
   * may have run) can be sent again without doubling its entries.
   */
  appendToStream(key: string, entries: ReadonlyArray<Record<string, string>>, maxLength: number, batch: string): Promise<void>;

  /** The newest `count` entries of the stream at `key`, oldest first. */
  readStream(key: string, count: number): Promise<Array<Record<string, string>>>;

  /**
   * Tracks `members` in the expiring set at `key` for `ttlSeconds` from now (again: from now).
   * Unlike addToSet, each member expires on its own; countTracked counts those still alive.
   */
  track(key: string, members: readonly string[], ttlSeconds: number): Promise<void>;

  /** Stops tracking `members`; an untracked one is ignored. */
  untrack(key: string, members: readonly string[]): Promise<void>;

  /** How many members of the expiring set at `key` are alive now. */
  countTracked(key: string): Promise<number>;

  /**
   * Sends `message` to every subscriber of `channel`, on every instance sharing the store. At
   * most once and without history (Redis pub/sub): a subscriber that is away misses it, so a
   * message only says "look again", never carries state that exists nowhere else.
   */
  publish(channel: string, message: string): Promise<void>;

  /**
   * Calls `onMessage` with every message published on `channel` from now on, until the
   * returned function is called. Resolves once the subscription is in place. `onMissed` is
   * called each time the subscription is back after its connection to the store dropped: what
   * was published meanwhile is lost, and whatever it would have said must be looked up again.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onMissed?: () => void): Promise<() => Promise<void>>;

  /**
   * Puts `member` in the schedule at `key`, due at `dueAtMs` (epoch milliseconds by the store's
   * clock: now); a member already there moves to the new time. A work queue that outlives the process (webhook deliveries).
   */
  schedule(key: string, member: string, dueAtMs: number): Promise<void>;

  /**
   * Takes up to `limit` members that are due, earliest first, and moves each `leaseMs` into the
   * future in the same step: of several instances asking at once, each member goes to one, and
   * one whose taker died (neither rescheduled nor unscheduled it) is due again after the lease.
   */
  takeDue(key: string, limit: number, leaseMs: number): Promise<string[]>;

  /** Takes `member` out of the schedule; an absent one is ignored. */
  unschedule(key: string, member: string): Promise<void>;

  /** How many members the schedule at `key` holds, due or not. */
  countScheduled(key: string): Promise<number>;

  /** Whether the store can take commands right now; false while Redis is unreachable. */
  readonly available: boolean;

  /**
   * Whether the store is available and answered the last command that ended: false from a
   * command that got no answer in time (a Redis that hangs keeps its connection open, and is
   * available all the same) until one is answered; and false from a write Redis refused for its
   * memory (full: it answers every read, and no login can be served) until a write is taken. What the broker says of the store
   * (/api/status, neb_store_available) reads it; requests still go to the store, so that one
   * sent as Redis moves again is answered.
   */
  readonly answering: boolean;

  /** Resolves when the store answers a round trip; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;

  /**
   * The time now (epoch ms) by the store's clock, which every instance sharing the store reads
   * alike, though their hosts' clocks differ: for a time one instance writes and another counts
   * from (when a BankID order was made: its QR codes count the seconds since). This host's clock
   * for a store that lives in this process.
   */
  now(): number;

  /**
   * Whether the server behind the store started so recently that the clients it had before may
   * not be connected again yet (a Redis restarted moments ago; they come back within their
   * reconnect delay). Always false for a store that lives in this process: it has no other clients.
   */
  justStarted(): Promise<boolean>;

  close(): Promise<void>;
}

/** How long the store remembers the name of an append to a stream (appendToStream): far past the tries of one. */
export const APPENDED_MARK_MS = 60_000;

/** One counter of incrementAll: `by` is one unless given, `ttlAbove` as increment's. */
export interface CounterIncrement {
  key: string;
  by?: number;
  ttlAbove?: number;
}

/** A counter's new count, and the milliseconds before it expires when they were asked for (increment). */
export interface CounterCount {
  count: number;
  ttlMs?: number;
}

export interface StoredRecord {
  value: string;
  /** Epoch seconds at which the record was consumed, when it was. */
  consumedAt?: number;
}

export type ConsumeResult = 'consumed' | 'already' | 'missing';

/**
 * The store could not be reached or did not answer in time. Shaped like an oidc-provider
 * error (status, expose, error_description) so that the provider's own error handler answers
 * 503 temporarily_unavailable instead of a 500 — and never a false "not found".
 */
export class StoreUnavailableError extends Error {
  readonly status = 503;
  readonly statusCode = 503;
  readonly expose = true;
  readonly error = 'temporarily_unavailable';
  readonly error_description: string = 'The broker cannot reach its state store right now. Try again in a moment.';

  constructor(cause?: unknown) {
    super('temporarily_unavailable', { cause });
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The store answers but refuses writes: Redis reached its maxmemory (with noeviction, as it must
 * run). Every request that writes fails as when the store is unreachable (503), and readiness
 * says which it is: an operator then makes room, rather than looking for a network fault.
 */
export class StoreFullError extends StoreUnavailableError {
  override readonly error_description = 'The broker cannot save anything right now. Try again in a moment.';

  constructor(cause: unknown) {
    super(cause);
    this.name = 'StoreFullError';
  }
}

/**
 * The store may well have answered, but this process was too busy to read the answer in time:
 * its event loop kept lagging. The request fails as load shedding answers (503, busy), never as
 * an outage of the store. A StoreUnavailableError still, so every caller that passes store
 * failures on (rather than blaming an eID for them) passes this on too.
 */
export class BusyError extends StoreUnavailableError {
  override readonly error_description = 'The broker is busy right now. Try again in a moment.';
  readonly reason = 'busy';

  constructor() {
    super();
    this.name = 'BusyError';
  }
}
