import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

/** Whether a request to the confirmation's address is the person's "Yes, log out", which oidc-provider has just answered by ending the session (a 303 on). */
function confirmsLogout(ctx: KoaContextWithOIDC): boolean {
  const { oidc } = ctx;
  return ctx.status === 303 && Boolean(oidc?.params?.logout) && Boolean(oidc?.session);
}

/**
 * A step of oidc-provider's app that runs `then` once it has answered a confirmed logout. Every
 * other request passes by with a compare of its path: the token endpoint's among them, which
 * must not pay an async step for the logout.
 */
export function afterLogoutConfirmation(provider: Provider, then: (ctx: KoaContextWithOIDC) => Promise<void>): Parameters<Provider['use']>[0] {
  const confirmPath = provider.pathFor('end_session_confirm', { mountPath: '' });
  return (koaCtx, next) => {
    if (koaCtx.path !== confirmPath) return next();
    return next().then(() => {
      const ctx = koaCtx as KoaContextWithOIDC;
      return confirmsLogout(ctx) ? then(ctx) : undefined;
    });
  };
}

/**
 * The confirmation to send again when a confirmed logout failed on the broker's side before
 * oidc-provider ended its session (the store failing as the grants are revoked: logout-revocation.ts):
 * the person is still logged in, and the same confirmation, its xsrf still the session's, logs
 * them out. Undefined for every other failure.
 */
export function retryOfLogout(ctx: KoaContextWithOIDC): { action: string; fields: Record<string, string> } | undefined {
  const { oidc } = ctx;
  const session = oidc?.session;
  const xsrf = oidc?.params?.xsrf;
  // oidc-provider marks a session it destroyed (not in its types).
  const ended = (session as { destroyed?: boolean } | undefined)?.destroyed === true;
  const stillLoggedIn = oidc?.route === 'end_session_confirm' && ctx.status >= 500 && Boolean(oidc.params?.logout) && session !== undefined && !ended;
  if (!stillLoggedIn || typeof xsrf !== 'string' || xsrf !== session.state?.['secret']) return undefined;
  return { action: oidc.urlFor('end_session_confirm'), fields: { xsrf, logout: 'yes' } };
}
