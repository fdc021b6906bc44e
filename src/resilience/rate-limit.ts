import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Context, Middleware } from 'koa';
import type { BrokerConfig } from '../config/schema.js';
import { HttpError } from '../http/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import { storeKey } from '../store/keys.js';

export type LimitName = 'auth' | 'token' | 'eid_start' | 'logout' | 'registration' | 'admin';

/**
 * The address a limit counts by. IPv6 counts by its /64: one subscriber usually holds a whole
 * /64, and could otherwise step around the limit by changing its address.
 */
export function clientAddress(ip: string): string {
  const address = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((group) => group.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** A client id as part of a key: as it is when it is tame, else its hash (ids come from requests). */
function keyPart(value: string): string {
  return /^[\w.:@-]{1,100}$/.test(value) ? value : `sha256-${createHash('sha256').update(value).digest('hex').slice(0, 32)}`;
}

/**
 * Rate limits per IP address and per client, counted in the store (Redis), so they hold across
 * every instance: fixed windows of `rate_limits.window_seconds`, one counter per key and window.
 * Over a limit, the answer is 429 with Retry-After (the seconds until the window ends) and
 * `{error: "too_many_requests", error_description}`.
 */
export class RateLimiter {
  readonly #store: Store;
  readonly #settings: BrokerConfig['rate_limits'];
  readonly #metrics: Metrics;

  constructor(store: Store, settings: BrokerConfig['rate_limits'], metrics: Metrics) {
    this.#store = store;
    this.#settings = settings;
    this.#metrics = metrics;
  }

  /** Counts one request against `limit`; throws HttpError 429 when it is one too many. */
  async check(limit: LimitName, request: { ip: string; clientId?: string | undefined }): Promise<void> {
    if (!this.#settings.enabled) return;
    const { per_ip: perIp, per_client: perClient = 0 } = this.#settings[limit] as { per_ip: number; per_client?: number };
    const counters: Counter[] = [];
    if (perIp > 0) counters.push({ by: 'ip', key: storeKey('rateLimit', limit, 'ip', clientAddress(request.ip)), allowed: perIp });
    if (perClient > 0 && request.clientId) counters.push({ by: 'client', key: storeKey('rateLimit', limit, 'client', keyPart(request.clientId)), allowed: perClient });
    if (counters.length === 0) return;
    // Both counted at once: one command to the store (the lifetime asked for only over the limit).
    const counts = await this.#store.incrementAll(counters.map((counter) => ({ key: counter.key, ttlAbove: counter.allowed })), this.#settings.window_seconds);
    const refusedAt = counters.findIndex((counter, i) => counts[i]!.count > counter.allowed);
    if (refusedAt === -1) return;
    const refused = counters[refusedAt]!;
    // A request refused for its address does not use up its client's allowance, or one address
    // could lock a client out for everyone: the client's count is given back.
    const givenBack = refused.by === 'ip' ? counters.filter((counter) => counter.by === 'client') : [];
    if (givenBack.length) await this.#store.incrementAll(givenBack.map((counter) => ({ key: counter.key, by: -1 })), this.#settings.window_seconds);
    this.#metrics.rateLimited.inc({ limit, by: refused.by });
    const who = refused.by === 'ip' ? 'this address' : 'this client';
    const retryAfterSeconds = Math.max(1, Math.ceil((counts[refusedAt]!.ttlMs ?? this.#settings.window_seconds * 1000) / 1000));
    throw new HttpError(429, 'too_many_requests', `Too many requests from ${who}. Try again in a moment.`, retryAfterSeconds);
  }
}

interface Counter {
  by: 'ip' | 'client';
  key: string;
  allowed: number;
}

/** The client a token or pushed authorization request authenticates as with client_secret_basic. */
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

function queryClientId(ctx: Context): string | undefined {
  const clientId = ctx.query.client_id;
  return typeof clientId === 'string' ? clientId : undefined;
}

const authenticatingClientId = (ctx: Context) => basicClientId(ctx) ?? queryClientId(ctx);
const under = (prefix: string) => (path: string) => path === prefix || path.startsWith(`${prefix}/`);

/** An endpoint that writes state for whoever asks, and the limit that bounds it. */
interface LimitedEndpoint {
  limit: LimitName;
  path: (path: string) => boolean;
  /** Absent: every method. */
  methods?: readonly string[];
  /** The client it is counted for, besides the address, read from what needs no body. */
  clientId?: (ctx: Context) => string | undefined;
}

/**
 * Every endpoint that stores something for an unauthenticated or merely client-authenticated
 * request: authorization requests (/auth, pushed ones at /request), the token, introspection
 * and revocation endpoints, RP-initiated logout (/session/end and its confirmation), dynamic
 * registration (/reg) and the admin API (counted before its token is checked, so guessing the
 * token is bounded too). The client is read from the query's client_id or client_secret_basic
 * credentials; a client that sends its id only in the body is limited by its address alone.
 */
const limitedEndpoints: readonly LimitedEndpoint[] = [
  { limit: 'auth', path: (path) => path === '/auth', methods: ['GET', 'POST'], clientId: queryClientId },
  { limit: 'auth', path: (path) => path === '/request', methods: ['POST'], clientId: authenticatingClientId },
  { limit: 'token', path: under('/token'), methods: ['POST'], clientId: authenticatingClientId },
  { limit: 'logout', path: under('/session/end'), clientId: queryClientId },
  { limit: 'registration', path: under('/reg') },
  { limit: 'admin', path: under('/admin') },
];

export function rateLimits(limiter: RateLimiter): Middleware {
  return (ctx, next) => {
    const endpoint = limitedEndpoints.find((candidate) => candidate.path(ctx.path) && (!candidate.methods || candidate.methods.includes(ctx.method)));
    return endpoint ? limiter.check(endpoint.limit, { ip: ctx.ip, clientId: endpoint.clientId?.(ctx) }).then(() => next()) : next();
  };
}
