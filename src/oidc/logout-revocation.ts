import type Provider from 'oidc-provider';
import type { ClientAuthorizationState, Grant, KoaContextWithOIDC } from 'oidc-provider';
import type { StoreAdapter } from './adapter.js';
import { afterLogoutConfirmation } from './logout-confirmation.js';

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

/**
 * Must be attached after frontChannelLogout: it then runs inside it, while the answer to a
 * confirmed logout is still oidc-provider's 303, and the grants are revoked before the person
 * moves on (the front-channel page or the client's post_logout_redirect_uri). `grants` revokes
 * each grant with everything issued under it, in one read of the grant's index.
 */
export function logoutRevocation(provider: Provider, grants: StoreAdapter): void {
  provider.on('authorization.success', rememberGrant);
  provider.use(afterLogoutConfirmation(provider, async (ctx) => {
    await Promise.all(grantsEndingWithLogout(ctx.oidc.session!).map((grantId) => grants.revokeGrant(grantId)));
  }));
}
