import type Provider from 'oidc-provider';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * How long this instance trusts its copy of an interaction it read and checked: long enough that
 * the pages of an overloaded broker, which poll less often, still find it.
 */
const KEPT_MS = 30_000;

/** Copies kept at most: a bound on memory however many logins come, the oldest going first. */
const MAX_KEPT = 50_000;

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
 */
export class CheckedInteractions {
  readonly #kept = new Map<string, Kept>();

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
  }

  drop(uid: string): void {
    this.#kept.delete(uid);
  }
}
