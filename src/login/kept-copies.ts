import { outsideRequest } from '../http/request-scope.js';

/** Copies kept at most by default: a bound on memory however many logins come, the oldest going first. */
const MAX_KEPT = 50_000;

/** Sweeps are batched: copies expire up to this much late, and a sweep costs a timer a second at most. */
const SWEEP_AT_MOST_EVERY_MS = 1_000;

interface Kept<V> {
  value: V;
  expiresAt: number;
}

/**
 * Values this instance keeps a short while, by login uid, so that requests that come every second
 * (a waiting page's polls) skip a store read. Bounded in number, the oldest going first; a copy
 * goes when it expires whether or not it is asked for again, on one timer for all copies (a login
 * waiting on an event stream asks for nothing after the stream opens, and 10,000 of them would
 * otherwise keep their copies for as long as they wait).
 */
export class KeptCopies<V> {
  readonly #kept = new Map<string, Kept<V>>();
  #sweep: NodeJS.Timeout | undefined;

  constructor(
    /** How long a copy is trusted, unless `keep` is told it expires sooner. */
    private readonly keptMs: number,
    private readonly maxKept = MAX_KEPT,
  ) {}

  /** Copies held now. */
  get size(): number {
    return this.#kept.size;
  }

  get(uid: string): V | undefined {
    const kept = this.#kept.get(uid);
    if (kept && kept.expiresAt <= Date.now()) {
      this.#kept.delete(uid);
      return undefined;
    }
    return kept?.value;
  }

  /** Keeps `value` for `uid` for keptMs, or until `expiresAt` (epoch ms) when that comes first. */
  keep(uid: string, value: V, expiresAt = Infinity): void {
    this.#kept.delete(uid);
    if (this.#kept.size >= this.maxKept) this.#kept.delete(this.#kept.keys().next().value!);
    this.#kept.set(uid, { value, expiresAt: Math.min(Date.now() + this.keptMs, expiresAt) });
    if (!this.#sweep) this.#sweepAfter(this.keptMs);
  }

  drop(uid: string): void {
    this.#kept.delete(uid);
  }

  /** One timer for all copies, while there are any; it does not keep the process alive. */
  #sweepAfter(ms: number): void {
    this.#sweep = outsideRequest(() => setTimeout(() => this.#expire(), Math.max(ms, SWEEP_AT_MOST_EVERY_MS))).unref();
  }

  /**
   * Lets go of the expired copies. They are in the order they were kept, so the oldest come
   * first and the sweep stops at the first live one (a copy that expires sooner than keptMs may
   * wait behind it, at most keptMs); the next sweep is when that one expires.
   */
  #expire(): void {
    const now = Date.now();
    for (const [uid, kept] of this.#kept) {
      if (kept.expiresAt > now) return this.#sweepAfter(kept.expiresAt - now);
      this.#kept.delete(uid);
    }
    this.#sweep = undefined;
  }
}
