import type { Context } from 'koa';
import type { BrokerConfig } from '../config/schema.js';
import { clientAddress } from '../http/client-ip.js';
import { EventStream } from '../http/event-stream.js';
import { HttpError } from '../http/errors.js';
import type { Metrics } from '../metrics/metrics.js';

type Limits = BrokerConfig['event_streams'];

/**
 * How often the open streams are looked over for one that has been idle long enough to need a
 * heartbeat. Each idle stream then gets its comment at its own moment (a heartbeat_seconds
 * after its last write, at most this much sooner), not all of them in one turn of the event loop.
 */
const HEARTBEAT_SWEEP_MS = 1000;

/** The answer to a stream asked of an instance that has begun to drain. */
const shuttingDown = () => new HttpError(503, 'temporarily_unavailable', 'This instance is shutting down. Try again: another one will answer.', 1);

/**
 * The event streams this instance holds open: admitted within the limits per login and per IP
 * address, the idle ones kept alive by one shared heartbeat, and all ended at once when the
 * instance starts to drain (each browser then reconnects, to whichever instance the balancer
 * picks; one that reaches this instance meanwhile is told 503 and polls elsewhere). How many it
 * holds is neb_event_streams_open; a refusal for either limit counts in neb_rate_limited_total.
 */
export class OpenEventStreams {
  readonly #limits: Limits;
  readonly #metrics: Metrics;
  readonly #streams = new Set<EventStream>();
  readonly #perLogin = new Map<string, number>();
  readonly #perIp = new Map<string, number>();
  readonly #heartbeat: NodeJS.Timeout;
  #closed = false;

  constructor(limits: Limits, metrics: Metrics) {
    this.#limits = limits;
    this.#metrics = metrics;
    const idleFor = limits.heartbeat_seconds * 1000 - HEARTBEAT_SWEEP_MS;
    this.#heartbeat = setInterval(() => {
      const idleSince = Date.now() - idleFor;
      for (const stream of this.#streams) stream.heartbeat(idleSince);
    }, HEARTBEAT_SWEEP_MS).unref();
  }

  /**
   * A new stream for this request, or 429 when the login or the address holds too many already.
   * An IPv6 address counts by its /64, as the rate limits and the connection cap count it: one
   * subscriber picks any address of its /64, and by address each stream could have one of its own.
   */
  admit(ctx: Context, uid: string, address: string): EventStream {
    const ip = clientAddress(address);
    if (this.#closed) throw shuttingDown();
    if ((this.#perLogin.get(uid) ?? 0) >= this.#limits.per_login) {
      throw this.#refusal('login', 'This login has too many open event streams. Close one and try again.', 1);
    }
    if ((this.#perIp.get(ip) ?? 0) >= this.#limits.per_ip) {
      throw this.#refusal('ip', 'Too many open event streams from this address. Try again in a moment.', 5);
    }
    const stream = new EventStream(ctx);
    this.#streams.add(stream);
    this.#metrics.eventStreamsOpen.set(this.#streams.size);
    count(this.#perLogin, uid, 1);
    count(this.#perIp, ip, 1);
    // Once, however the stream ends: closed, dropped, refused, or ended by `close`.
    stream.onClose(() => {
      this.#streams.delete(stream);
      this.#metrics.eventStreamsOpen.set(this.#streams.size);
      count(this.#perLogin, uid, -1);
      count(this.#perIp, ip, -1);
    });
    return stream;
  }

  #refusal(by: 'login' | 'ip', description: string, retryAfterSeconds: number): HttpError {
    this.#metrics.rateLimited.inc({ limit: 'event_streams', by });
    return new HttpError(429, 'too_many_requests', description, retryAfterSeconds);
  }

  /**
   * Ends every stream (its browser reconnects elsewhere and loses nothing; one whose reader is
   * behind is dropped at once, see EventStream.end) and admits no more. A stream admitted but
   * not open yet (its eID still looking up the login) is refused as a new one is now.
   */
  close(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const stream of [...this.#streams]) {
      stream.refuse(shuttingDown());
      stream.end();
    }
  }
}

function count(counts: Map<string, number>, key: string, by: 1 | -1): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}
