import type Provider from 'oidc-provider';
import { KeptCopies } from './kept-copies.js';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * How long this instance trusts its copy of an interaction it read and checked: long enough that
 * the pages of an overloaded broker, which poll less often, still find it.
 */
const KEPT_MS = 30_000;

/**
 * Interactions this instance has read from the store and checked lately, by uid, for half a
 * minute: a page that polls once a second then costs the store no read of its interaction. The
 * request still proves it is this login's browser, by the signed interaction cookie (an HMAC,
 * no store command). Only the checks and what never changes in an
 * interaction (its uid, prompt, client and parameters) are taken from the copy: whatever writes
 * the interaction reads it again (LoginSteps.finish and refuse), and a login that ends here drops
 * its copy. A login ended on another instance leaves a copy here at most KEPT_MS, through which
 * a request can only reach an eID's answer, never the interaction's result.
 * A copy goes when it expires, asked for again or not (about 0.8 KB of heap each).
 */
export class CheckedInteractions extends KeptCopies<Interaction> {
  constructor() {
    super(KEPT_MS);
  }

  /** Keeps the interaction's copy, never past the interaction's own expiry. */
  keepChecked(interaction: Interaction): void {
    this.keep(interaction.uid, interaction, interaction.exp * 1000);
  }
}
