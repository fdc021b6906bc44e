import { createHash } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { BrokerConfig } from '../config/schema.js';
import { clientAddress } from '../http/client-ip.js';
import { HttpError } from '../http/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import { storeKey } from '../store/keys.js';
import { outsideRequest } from '../http/request-scope.js';

export type LimitName = 'auth' | 'token' | 'backchannel' | 'eid_start' | 'logout' | 'registration' | 'admin';

/** A client id as part of a key: as it is when it is tame, else its hash (ids come from requests). */
export function clientKeyPart(value: string): string {
  return /^[\w.:@-]{1,100}$/.test(value) ? value : `sha256-${createHash('sha256').update(value).digest('hex').slice(0, 32)}`;
}

/**
 * Counters at most this many to a script, the scripts of one flush sent together: a flood of
 * addresses does not hold Redis in one long script. As many held counts also send them early.
 */
const FLUSH_BATCH = 500;

/**
 * Windows follow the clock (below), so the store's lifetime of a counter is never needed: a
 * threshold no count reaches spares Redis a PTTL for each counter (Store.increment's ttlAbove).
 */
const LIFETIME_NEVER_ASKED = Number.MAX_SAFE_INTEGER;

/** One key's count in one window, as this instance knows it. */
class WindowCount {
  /** The store's count in its last answer to this instance (this instance's sent counts in it). */
  seen = 0;
  /** Counted here and sent, not yet answered. */
  sending = 0;
  /** Counted here, not yet sent. */
  held = 0;
  /** Whether it is in its window's `unsent`, to be sent with the next flush. */
  queued = false;

  constructor(readonly key: string) {}

  /** Counted here and not yet in an answer of the store. */
  get unsent(): number {
    return this.sending + this.held;
  }

  get total(): number {
    return this.seen + this.unsent;
  }
}

/** One counting window, the same on every instance: `window_seconds` long, starting at multiples of it (epoch). */
interface CountingWindow {
  /** The window's start, epoch seconds: part of its counters' keys. */
  start: string;
  endsAtMs: number;
  counts: Map<string, WindowCount>;
  /** The counts with held requests, in the order they were first held. */
  unsent: WindowCount[];
}

/**
 * Rate limits per IP address and, where the client authenticates, per client, shared across
 * every instance through the store (Redis) yet decided without a round trip on the request's path.
 *
 * Windows are fixed, `rate_limits.window_seconds` long and aligned to the clock, so all instances
 * count in the same window under the same key (`ratelimit:<limit>:<window start>:ip:<address>`).
 * Each instance counts requests locally and decides at once from the key's count in the store as
 * it last saw it plus what it counted since. What it counted goes to the store in one round trip
 * every `rate_limits.flush_ms` (sooner when FLUSH_BATCH keys hold counts), and the store's
 * answers, with every instance's counts in them, become the counts seen. So one instance never
 * lets more than a limit through, and all together exceed it by at most what the others let
 * through for that key in the time one flush and its answer take (README, Rate limits).
 *
 * An instance keeps at most `rate_limits.local_counters` keys a window, and a window's counts
 * are dropped when it ends. Past that many, a request with a key it does not hold is counted in
 * the store before it goes on, one round trip as every request was before: memory stays bounded
 * whatever a flood of addresses sends, and the limits still hold.
 *
 * While the store is away, flushes fail and their counts are held for the next one: each
 * instance goes on deciding by what it saw and counted itself, and never answers 503 for a rate
 * limit. A flush whose answer timed out is counted again with the next, which can only refuse
 * early, never let more through. `close()` sends what is held (a graceful shutdown).
 *
 * Over a limit, the answer is 429 with Retry-After (the seconds until the window ends) and
 * `{error: "too_many_requests", error_description}`.
 */
export class RateLimiter {
  readonly #store: Store;
  readonly #settings: BrokerConfig['rate_limits'];
  readonly #metrics: Metrics;
  #window: CountingWindow | undefined;
  /** Drops the window's counts when it ends, should no request come after it. */
  #windowEnd: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  /** The flush under way: one at a time, so that the store's answers arrive in the order counted. */
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(store: Store, settings: BrokerConfig['rate_limits'], metrics: Metrics) {
    this.#store = store;
    this.#settings = settings;
    this.#metrics = metrics;
  }

  /**
   * Counts one request against `limit` by its address, and checks it against its client's
   * allowance without counting it there (`charge` does, once the request proved it is that
   * client); throws HttpError 429 when it is one too many. Decided at once (undefined) but for a
   * key beyond `local_counters`, counted or read in the store (a promise).
   */
  check(limit: LimitName, request: { ip: string; clientId?: string | undefined }): Promise<void> | undefined {
    if (!this.#settings.enabled) return undefined;
    const now = Date.now();
    const window = this.#windowAt(now);
    const counters = this.#countersOf(limit, request, window);
    if (counters.length === 0) return undefined;
    const counts = counters.map((counter) => this.#countToCheck(window, counter));
    if (counts.includes(undefined)) return this.#checkInStore(limit, counters, counts, window);
    const refused = refusedBy(counters, counts.map((count) => (count === NOT_YET_COUNTED ? 0 : count!.total) + 1));
    counters.forEach((counter, i) => {
      if (counter.by === 'ip') this.#hold(window, counts[i] as WindowCount);
    });
    if (refused) throw this.#refusal(limit, refused, window, now);
    return undefined;
  }

  /**
   * Counts against `clientId`'s allowance a request `check` let through at `checkedAt` (epoch
   * ms), now that it proved it is that client. Only then: anyone can name a client in Basic
   * credentials, and a request that never proves it (a guessed secret, a body sent so slowly
   * that the request lasts the whole request timeout) must not use up, or hold while it lasts,
   * any of the client's allowance, or a few addresses could lock the client out for everyone.
   * Requests let through together may so pass the allowance by as many as run at once. A request
   * of a window that has ended counts for nothing any more.
   */
  charge(limit: LimitName, clientId: string, checkedAt: number): void {
    const window = this.#window;
    if (!this.#settings.enabled || !window || checkedAt < window.endsAtMs - this.#settings.window_seconds * 1000) return;
    const counter = this.#clientCounter(limit, clientId, window.start);
    if (!counter) return;
    const count = this.#countOf(window, counter.key);
    // Past `local_counters`, counted in the store at once, as #checkInStore does.
    if (count) this.#hold(window, count);
    else void this.#store.incrementAll([{ key: counter.key }], this.#settings.window_seconds).catch(() => undefined);
  }

  /**
   * Sends the counts held here to the store, all in one round trip, and takes the store's counts
   * from its answer. When the store fails, the counts are held again for the next flush.
   */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#send());
    return this.#flushing;
  }

  /** Sends what is held, and sets no timer any more (a graceful shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#windowEnd);
    await this.flush();
  }

  /**
   * The counters of a request: its address's, then its client's. The client's is left out when
   * the address's count as this instance holds it refuses the request already, which is then
   * refused at once: a refusal for the address never counts against the client anyway, and
   * checked, a flood of refused requests each naming a new client had each name read in the store
   * once this instance's counters were full (#checkInStore).
   */
  #countersOf(limit: LimitName, request: { ip: string; clientId?: string | undefined }, window: CountingWindow): Counter[] {
    const { per_ip: perIp } = this.#settings[limit];
    const counters: Counter[] = [];
    if (perIp > 0) {
      const address: Counter = { by: 'ip', key: storeKey('rateLimit', limit, window.start, 'ip', clientAddress(request.ip)), allowed: perIp };
      counters.push(address);
      if ((window.counts.get(address.key)?.total ?? 0) >= perIp) return counters;
    }
    const client = this.#clientCounter(limit, request.clientId, window.start);
    if (client) counters.push(client);
    return counters;
  }

  #clientCounter(limit: LimitName, clientId: string | undefined, windowStart: string): Counter | undefined {
    const { per_client: perClient = 0 } = this.#settings[limit] as { per_client?: number };
    if (perClient === 0 || !clientId) return undefined;
    return { by: 'client', key: storeKey('rateLimit', limit, windowStart, 'client', clientKeyPart(clientId)), allowed: perClient };
  }

  /** The window `now` falls in; the one before is dropped with its counts (they count for nothing now). */
  #windowAt(now: number): CountingWindow {
    const windowMs = this.#settings.window_seconds * 1000;
    if (this.#window && now < this.#window.endsAtMs) return this.#window;
    const startMs = now - (now % windowMs);
    const window: CountingWindow = { start: String(startMs / 1000), endsAtMs: startMs + windowMs, counts: new Map(), unsent: [] };
    this.#window = window;
    clearTimeout(this.#windowEnd);
    if (!this.#closed) {
      this.#windowEnd = outsideRequest(() => setTimeout(() => {
        if (this.#window === window) this.#window = undefined;
      }, window.endsAtMs - now)).unref();
    }
    return window;
  }

  /**
   * The count a request is checked against: its address's, held (#countOf); its client's, as this
   * instance knows it, without a count made for it (a name anyone may write makes none), which
   * is NOT_YET_COUNTED when this instance holds none of it yet; undefined when it must be read
   * in the store, `local_counters` being held.
   */
  #countToCheck(window: CountingWindow, counter: Counter): WindowCount | typeof NOT_YET_COUNTED | undefined {
    if (counter.by === 'ip') return this.#countOf(window, counter.key);
    return window.counts.get(counter.key) ?? (window.counts.size < this.#settings.local_counters ? NOT_YET_COUNTED : undefined);
  }

  /** The key's count in the window; undefined when it is not held and `local_counters` are. */
  #countOf(window: CountingWindow, key: string): WindowCount | undefined {
    const known = window.counts.get(key);
    if (known || window.counts.size >= this.#settings.local_counters) return known;
    const count = new WindowCount(key);
    window.counts.set(key, count);
    return count;
  }

  #hold(window: CountingWindow, count: WindowCount): void {
    count.held += 1;
    if (count.queued) return;
    count.queued = true;
    window.unsent.push(count);
    if (window.unsent.length === FLUSH_BATCH) void this.flush();
    else this.#flushLater();
  }

  #flushLater(): void {
    if (this.#flushTimer || this.#closed) return;
    this.#flushTimer = outsideRequest(() => setTimeout(() => void this.flush(), this.#settings.flush_ms)).unref();
  }

  async #send(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const window = this.#window;
    if (!window?.unsent.length) return;
    if (!this.#store.available) {
      // Redis is away: the counts stay held for the first send after it is back, and the
      // limits are decided by what this instance has seen and counted until then.
      this.#metrics.rateLimitFlushFailures.inc();
      this.#flushLater();
      return;
    }
    const sent = window.unsent.splice(0);
    for (const count of sent) {
      count.sending = count.held;
      count.held = 0;
      count.queued = false;
    }
    try {
      const batches = [];
      for (let i = 0; i < sent.length; i += FLUSH_BATCH) batches.push(sent.slice(i, i + FLUSH_BATCH));
      const answers = await Promise.all(
        batches.map((batch) => this.#store.incrementAll(batch.map((count) => ({ key: count.key, by: count.sending, ttlAbove: LIFETIME_NEVER_ASKED })), this.#settings.window_seconds)),
      );
      answers.flat().forEach((answer, i) => {
        sent[i]!.seen = answer.count;
        sent[i]!.sending = 0;
      });
    } catch {
      // Redis went away or was slow: held again, as above. An answer that timed out may have been
      // counted, and then counts twice: that can refuse early, never let more through.
      this.#metrics.rateLimitFlushFailures.inc();
      for (const count of sent) {
        if (!count.queued) window.unsent.push(count);
        count.queued = true;
        count.held += count.sending;
        count.sending = 0;
      }
    }
    if (window.unsent.length) this.#flushLater();
  }

  /**
   * A request whose keys this instance cannot hold (it holds `local_counters` already): its
   * address counted in the store before it goes on, and its client's count read there (counted
   * by `charge`), in one round trip, with what this instance has not yet sent.
   */
  async #checkInStore(limit: LimitName, counters: Counter[], known: ReadonlyArray<WindowCount | typeof NOT_YET_COUNTED | undefined>, window: CountingWindow): Promise<void> {
    const counts = await this.#store.incrementAll(
      counters.map((counter) => ({ key: counter.key, by: counter.by === 'ip' ? 1 : 0, ttlAbove: LIFETIME_NEVER_ASKED })),
      this.#settings.window_seconds,
    );
    const unsent = (i: number) => (known[i] instanceof WindowCount ? known[i].unsent : 0);
    const refused = refusedBy(counters, counts.map((count, i) => count.count + unsent(i) + (counters[i]!.by === 'client' ? 1 : 0)));
    if (refused) throw this.#refusal(limit, refused, window, Date.now());
  }

  #refusal(limit: LimitName, refused: Counter, window: CountingWindow, now: number): HttpError {
    this.#metrics.rateLimited.inc({ limit, by: refused.by });
    const who = refused.by === 'ip' ? 'this address' : 'this client';
    const retryAfterSeconds = Math.max(1, Math.ceil((window.endsAtMs - now) / 1000));
    return new HttpError(429, 'too_many_requests', `Too many requests from ${who}. Try again in a moment.`, retryAfterSeconds);
  }
}

interface Counter {
  by: 'ip' | 'client';
  key: string;
  allowed: number;
}

/** A client's count this instance holds nothing of yet: 0 as far as it knows. */
const NOT_YET_COUNTED = Symbol('not yet counted');

/** The first counter whose count, this request's included, is over its limit. */
function refusedBy(counters: readonly Counter[], counts: readonly number[]): Counter | undefined {
  return counters.find((counter, i) => counts[i]! > counter.allowed);
}

/** The client a request to an endpoint where clients authenticate (token, introspection, revocation, CIBA) names in its client_secret_basic credentials. */
function basicClientId(ctx: Context): string | undefined {
  const encoded = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(ctx.get('authorization'))?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return undefined;
  try {
    // RFC 6749 §2.3.1: the id is form-encoded before it is put in the header.
    return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

const under = (prefix: string) => (path: string) => path === prefix || path.startsWith(`${prefix}/`);

/** An endpoint that writes state for whoever asks, and the limit that bounds it. */
interface LimitedEndpoint {
  limit: LimitName;
  path: (path: string) => boolean;
  /** Absent: every method. */
  methods?: readonly string[];
  /**
   * The client that authenticates here, checked besides the address; a request that proved it
   * was that client (authenticatedAs) is counted against it once answered (RateLimiter.charge).
   */
  clientId?: (ctx: Context) => string | undefined;
}

/**
 * Every endpoint that stores something for an unauthenticated or merely client-authenticated
 * request: authorization requests (/auth, pushed ones at /request), the token, introspection
 * and revocation endpoints, CIBA requests (/backchannel, each an eID transaction on a person's
 * phone), RP-initiated logout (/session/end and its confirmation), dynamic registration (/reg)
 * and the admin API (counted before its token is checked, so guessing the token is bounded too).
 * Only where a client authenticates is it counted per client, by its client_secret_basic
 * credentials: anyone can write a client's id into a query, and strangers naming it must not use
 * up what its real users are allowed. Elsewhere requests are limited by their address alone (and
 * by load shedding and the connection caps).
 */
const limitedEndpoints: readonly LimitedEndpoint[] = [
  // A form POSTed to /auth never gets here (postedRequestsAsGet): it is counted as the GET it is sent on as.
  { limit: 'auth', path: (path) => path === '/auth', methods: ['GET'] },
  { limit: 'auth', path: (path) => path === '/request', methods: ['POST'] },
  { limit: 'token', path: under('/token'), methods: ['POST'], clientId: basicClientId },
  { limit: 'backchannel', path: under('/backchannel'), methods: ['POST'], clientId: basicClientId },
  { limit: 'logout', path: under('/session/end') },
  { limit: 'registration', path: under('/reg') },
  { limit: 'admin', path: under('/admin') },
];

/**
 * Whether the request authenticated as `clientId`: oidc-provider found that client (it names the
 * client only once it has read the credentials) and did not answer 401 (RFC 6749 §5.2,
 * invalid_client). A request refused before its credentials were checked (400 for a body of
 * another type, for credentials sent two ways, for a client_id that differs from Basic's)
 * proved nothing either: a stranger could otherwise use up a client's allowance with them.
 */
function authenticatedAs(ctx: Context, clientId: string): boolean {
  const { oidc } = ctx as Context & { oidc?: { client?: { clientId: string } } };
  return ctx.status !== 401 && oidc?.client?.clientId === clientId;
}

/** Runs the rest of the request, then `charge` if it authenticated as `clientId`, also when it failed. */
function answerCharging(ctx: Context, next: () => Promise<unknown>, clientId: string, charge: () => void): Promise<void> {
  return next().finally(() => {
    if (authenticatedAs(ctx, clientId)) charge();
  }) as Promise<void>;
}

export function rateLimits(limiter: RateLimiter): Middleware {
  return (ctx, next) => {
    const endpoint = limitedEndpoints.find((candidate) => candidate.path(ctx.path) && (!candidate.methods || candidate.methods.includes(ctx.method)));
    if (!endpoint) return next();
    const clientId = endpoint.clientId?.(ctx);
    const checkedAt = Date.now();
    const counting = limiter.check(endpoint.limit, { ip: ctx.ip, clientId });
    const answer = clientId ? () => answerCharging(ctx, next, clientId, () => limiter.charge(endpoint.limit, clientId, checkedAt)) : next;
    return counting ? counting.then(answer) : answer();
  };
}
