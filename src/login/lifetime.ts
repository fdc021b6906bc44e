import type { BrokerConfig } from '../config/schema.js';
import type { EidPlugin } from '../eids/plugin.js';

/**
 * Seconds from an eID's outcome to the client: an upstream's callback carried into the
 * interaction, the page that follows the outcome, oidc-provider's resume.
 */
const FINISHING_SECONDS = 60;

/** How long a login lives, in two parts (seconds). */
export interface LoginLifetime {
  /** From its authorization request, the time to choose an eID and start it: ttl.interaction. */
  choosing: number;
  /**
   * The whole of its life: `choosing`, and then as long as the slowest eID started at its
   * last moment may still take, at most ttl.eid_extension. oidc-provider's interaction and its
   * cookies live this long, and so do the broker's records of the login.
   */
  whole: number;
}

/** The login's lifetime for the configured eIDs: each may take its own time limit (ttl.eid_extension when it has none). */
export function loginLifetime(ttl: BrokerConfig['ttl'], eids: readonly Pick<EidPlugin, 'timeLimitSeconds'>[]): LoginLifetime {
  const slowest = Math.max(0, ...eids.map((eid) => (eid.timeLimitSeconds ?? ttl.eid_extension) + FINISHING_SECONDS));
  return { choosing: ttl.interaction, whole: ttl.interaction + Math.min(slowest, ttl.eid_extension) };
}

/** The eIDs whose time limit the extension cuts short: a login started at the last moment may run out before they finish. */
export function cutShort(ttl: BrokerConfig['ttl'], eids: readonly Pick<EidPlugin, 'id' | 'timeLimitSeconds'>[]): string[] {
  return eids.filter((eid) => eid.timeLimitSeconds !== undefined && eid.timeLimitSeconds + FINISHING_SECONDS > ttl.eid_extension).map((eid) => eid.id);
}

/**
 * Whether a login is past its time to choose and start an eID, by its interaction's `exp` (epoch
 * seconds): it began `whole` before that. Not by its `iat`, which oidc-provider writes into the
 * stored record only, not into the interaction /auth made (and the login's first page may use).
 */
export function choosingOver({ exp }: { exp: number }, lifetime: LoginLifetime): boolean {
  return Date.now() >= (exp - lifetime.whole + lifetime.choosing) * 1000;
}
