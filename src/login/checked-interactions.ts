import type Provider from 'oidc-provider';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * How long this instance trusts its copy of an interaction it read and checked: long enough that
 * the pages of an overloaded broker, which poll less often, still find it.
 */
const KEPT_MS = 30_000;

/** Copies kept at most: a bound on memory however many logins come, the oldest going first. */
const MAX_KEPT = 50_000;

/** Sweeps are batched: copies expire up to this much late, and a sweep costs a timer a second at most. */
const SWEEP_AT_MOST_EVERY_MS = 1_000;

interface Kept {
  interaction: Interaction;
  expiresAt: number;
}

/**
 * Interactions this instance has read from the store and checked lately, by uid, for half a
 * minute: a page that polls once a second then costs the store no read of its interaction. The
 * request still proves it is this login's browser, by the signed interaction cookie (an HMAC,
 * no store command). Only the checks and what never changes in an
 * interaction (its uid, prompt, client and parameters) are taken from the copy: whatever writes
 * the interaction reads it again (LoginSteps.finish and refuse), and a login that ends here drops
 * its copy. A login ended on another instance leaves a copy here at most KEPT_MS, through which
 * a request can only reach an eID's answer, never the interaction's result.
 *
 * A copy goes when it expires, whether or not it is asked for again: a login waiting on an event
 * stream asks for none after the stream opens, and 10,000 such logins would otherwise keep
 * 10,000 copies (about 0.8 KB of heap each) for as long as they wait.
 */
export class CheckedInteractions {
  readonly #kept = new Map<string, Kept>();
  #sweep: NodeJS.Timeout | undefined;

  /** Copies held now. */
  get size(): number {
    return this.#kept.size;
  }

  get(uid: string): Interaction | undefined {
    const kept = this.#kept.get(uid);
    if (kept && kept.expiresAt <= Date.now()) {
      this.#kept.delete(uid);
      return undefined;
    }
    return kept?.interaction;
  }

  keep(interaction: Interaction): void {
    this.#kept.delete(interaction.uid);
    if (this.#kept.size >= MAX_KEPT) this.#kept.delete(this.#kept.keys().next().value!);
    this.#kept.set(interaction.uid, { interaction, expiresAt: Math.min(Date.now() + KEPT_MS, interaction.exp * 1000) });
    if (!this.#sweep) this.#sweepAfter(KEPT_MS);
  }

  drop(uid: string): void {
    this.#kept.delete(uid);
  }

  /** One timer for all copies, while there are any; it does not keep the process alive. */
  #sweepAfter(ms: number): void {
    this.#sweep = setTimeout(() => this.#expire(), Math.max(ms, SWEEP_AT_MOST_EVERY_MS)).unref();
  }

  /**
   * Lets go of the expired copies. They are in the order they were kept, so the oldest come
   * first and the sweep stops at the first live one (a copy kept for an interaction about to
   * expire may wait behind it, at most KEPT_MS); the next sweep is when that one expires.
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
