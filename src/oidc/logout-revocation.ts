import type Provider from 'oidc-provider';
import type { ClientAuthorizationState, Grant, KoaContextWithOIDC } from 'oidc-provider';
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
 * "No, stay logged in". So each code's grant is remembered in the session here, when it has no
 * offline_access, and the broker revokes those grants itself once the person confirms.
 */

/** What the broker keeps of a client in a browser session, besides oidc-provider's sid and grantId. */
type SessionAuthorization = ClientAuthorizationState & {
  /** The grants of this client's logins in the session that the logout ends. */
  endsWithLogout?: string[];
};

type Session = NonNullable<KoaContextWithOIDC['oidc']['session']>;

/**
 * The most logins of one client a browser session remembers for the logout (about 25 bytes
 * each; oidc-provider keeps one entry of its own per client). A login beyond it revokes the
 * oldest's grant at once, as the logout would have: a client that logs the same person in this
 * often in one session is past needing its first tokens, and no grant ever leaves the list
 * unrevoked (README, Logout).
 */
export const MAX_GRANTS_PER_CLIENT = 32;

function outlivesLogout(grant: Grant): boolean {
  return grant.getOIDCScope().split(' ').includes('offline_access');
}

/**
 * On an authorization response (a code issued), remembers the code's grant in the session's
 * entry for the client unless it has offline_access. The entry is replaced through the session,
 * which marks it changed: the session is saved when the authorization request ends.
 */
function rememberGrant(ctx: KoaContextWithOIDC): void {
  const { session, grant, client } = ctx.oidc;
  if (!session || !client || !grant?.jti || outlivesLogout(grant)) return;
  const authorization: SessionAuthorization = session.authorizationFor(client.clientId);
  const remembered: SessionAuthorization = { ...authorization, endsWithLogout: [...(authorization.endsWithLogout ?? []), grant.jti] };
  session.authorizations = { ...session.authorizations, [client.clientId]: remembered };
}

function grantsEndingWithLogout(session: Session): string[] {
  return Object.values(session.authorizations ?? {}).flatMap((authorization: SessionAuthorization) => authorization.endsWithLogout ?? []);
}

function revokeAll(grants: StoreAdapter, grantIds: readonly string[]): Promise<unknown> {
  return Promise.all(grantIds.map((grantId) => grants.revokeGrant(grantId)));
}

/** A client's grants beyond MAX_GRANTS_PER_CLIENT, the oldest: those to revoke now. */
function beyondCap(entry: SessionAuthorization): string[] {
  return (entry.endsWithLogout ?? []).slice(0, -MAX_GRANTS_PER_CLIENT);
}

function withinCap(entry: SessionAuthorization): SessionAuthorization {
  return entry.endsWithLogout ? { ...entry, endsWithLogout: entry.endsWithLogout.slice(-MAX_GRANTS_PER_CLIENT) } : entry;
}

/**
 * Revokes each client's grants beyond the cap, and only then leaves them out of the session,
 * which is saved again: should the store fail, the request fails with them still in the list,
 * which the next login or the logout revokes.
 */
async function revokeBeyondCap(session: Session, grants: StoreAdapter): Promise<void> {
  const entries = Object.entries(session.authorizations ?? {}) as Array<[string, SessionAuthorization]>;
  const beyond = entries.flatMap(([, entry]) => beyondCap(entry));
  if (!beyond.length) return;
  await revokeAll(grants, beyond);
  session.authorizations = Object.fromEntries(entries.map(([clientId, entry]) => [clientId, withinCap(entry)]));
  await session.persist();
}

/**
 * Keeps the session's lists within the cap once an authorization response is made and the
 * session saved with its new grant.
 */
function capAfterAuthorization(grants: StoreAdapter): AfterEndpoint {
  return {
    routes: ['authorization', 'resume'],
    after: (ctx) => (ctx.oidc.session ? revokeBeyondCap(ctx.oidc.session, grants) : undefined),
  };
}

/**
 * The grants are revoked as the session is destroyed, before it is: oidc-provider destroys a
 * session at a confirmed logout only (its end_session confirmation, after the xsrf check and the
 * back-channel notices, before it clears the session cookie). The list of grants lives in the
 * session alone, so the session must not go before its grants do: should the store fail on the
 * way, the logout fails with the session and its cookie as they were, the person is told they
 * are still logged in, and confirming again revokes what is left (revoking a grant twice is
 * harmless). Were the grants revoked after the session was gone, a failure would lose the list
 * and leave the tokens working after a logout the person took for done. `grants` revokes each
 * grant with everything issued under it, in one read of the grant's index.
 */
function revokeBeforeSessionEnds(provider: Provider, grants: StoreAdapter): void {
  const { prototype } = provider.Session;
  const destroy = prototype.destroy;
  prototype.destroy = async function revokeGrantsThenDestroy(this: Session) {
    await revokeAll(grants, grantsEndingWithLogout(this));
    await destroy.call(this);
  };
}

/**
 * Remembers each login's grant in its session and revokes them all at a confirmed logout.
 * Returns the step that keeps each session within the cap.
 */
export function logoutRevocation(provider: Provider, grants: StoreAdapter): AfterEndpoint {
  provider.on('authorization.success', rememberGrant);
  revokeBeforeSessionEnds(provider, grants);
  return capAfterAuthorization(grants);
}
