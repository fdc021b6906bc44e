import type Provider from 'oidc-provider';
import type { Grant, KoaContextWithOIDC } from 'oidc-provider';
import type { Store } from '../store/store.js';
import { storeKey } from '../store/keys.js';
import type { StoreAdapter } from './adapter.js';
import type { AfterEndpoint } from './after-endpoints.js';

/**
 * A confirmed RP-initiated logout ends the tokens that the browser session's clients got
 * without offline_access (README, Logout): every token and unredeemed code of their grants.
 *
 * oidc-provider's own revocation at logout does not fit the broker. It revokes one grant per
 * client, the session's last (every login makes a grant of its own: grantRequestedScopes), and
 * only grants not marked to persist the logout, which it marks every grant whose tokens do not
 * expire with the session — and those tokens must outlive the session, so that using one never
 * reads the session. It would also revoke the asking client's grant when the person answers
 * "No, stay logged in". So the broker remembers each code's grant without offline_access, and
 * revokes those grants itself once the person confirms.
 *
 * The grants are a set in the store by the session's uid, which stays the same while oidc-provider
 * gives the session a new id at each login, rather than a list inside the session: oidc-provider
 * reads a session when a login's return begins and writes it whole when it ends, so two logins of
 * one browser returning at once (two tabs) would each write a list without the other's grant,
 * and that grant's tokens would outlive the logout. Adding to a set loses neither. The set is
 * read only by the logout, so its size costs no other request; each member is a login the person
 * made with their eID.
 */

type Session = NonNullable<KoaContextWithOIDC['oidc']['session']>;

interface LogoutRevocationDependencies {
  grants: StoreAdapter;
  store: Store;
  /** How long a browser session lives (ttl.session): the set lives as long from its last login. */
  sessionTtlSeconds: number;
}

function outlivesLogout(grant: Grant): boolean {
  return grant.getOIDCScope().split(' ').includes('offline_access');
}

const grantsKeyOf = (session: Session) => storeKey('logoutGrants', session.uid);

/**
 * Once an authorization response has issued a code, remembers the code's grant for the logout
 * of the session it was issued in, unless it has offline_access. Remembered before the answer
 * leaves: should the store fail, the client gets no code rather than tokens the logout misses.
 */
function rememberGrants(deps: LogoutRevocationDependencies): AfterEndpoint {
  return {
    routes: ['authorization', 'resume'],
    async after(ctx) {
      const { session, grant, entities } = ctx.oidc;
      if (!session || !entities.AuthorizationCode || !grant?.jti || outlivesLogout(grant)) return;
      await deps.store.addToSet(grantsKeyOf(session), grant.jti, deps.sessionTtlSeconds);
    },
  };
}

/**
 * The grants are revoked as the session is destroyed, before it is: oidc-provider destroys a
 * session at a confirmed logout only (its end_session confirmation, after the xsrf check and the
 * back-channel notices, before it clears the session cookie). Should the store fail on the way,
 * the logout fails with the session and its cookie as they were, the person is told they are
 * still logged in, and confirming again revokes what is left (revoking a grant twice is
 * harmless). Were the session gone first, the person would take the logout for done while the
 * tokens still worked. `grants` revokes each grant with everything issued under it, in one read
 * of the grant's index.
 */
function revokeBeforeSessionEnds(provider: Provider, deps: LogoutRevocationDependencies): void {
  const { prototype } = provider.Session;
  const destroy = prototype.destroy;
  prototype.destroy = async function revokeGrantsThenDestroy(this: Session) {
    const key = grantsKeyOf(this);
    const grantIds = await deps.store.members(key);
    await Promise.all(grantIds.map((grantId) => deps.grants.revokeGrant(grantId)));
    await deps.store.delete(key);
    await destroy.call(this);
  };
}

/** Remembers each login's grant for its session and revokes them all at a confirmed logout; returns the step that remembers. */
export function logoutRevocation(provider: Provider, deps: LogoutRevocationDependencies): AfterEndpoint {
  revokeBeforeSessionEnds(provider, deps);
  return rememberGrants(deps);
}
