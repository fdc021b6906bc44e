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
