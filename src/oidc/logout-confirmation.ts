import type { KoaContextWithOIDC } from 'oidc-provider';

/** Whether oidc-provider's answer at the confirmation's address ended the session: the person's "Yes, log out" (a 303 on). */
export function confirmsLogout(ctx: KoaContextWithOIDC): boolean {
  const { oidc } = ctx;
  return ctx.status === 303 && Boolean(oidc?.params?.logout) && Boolean(oidc?.session);
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

/**
 * Whether oidc-provider refused an answer to the logout's question because the browser's session
 * ended meanwhile (a logout in another tab, the session run out): the new session holds no question
 * to answer, and no one logged in. The person is logged out, as "Yes" asked; an error page said the
 * service had sent a logout request that could not be accepted.
 */
export function loggedOutMeanwhile(ctx: KoaContextWithOIDC, error: string): boolean {
  const { oidc } = ctx;
  return oidc?.route === 'end_session_confirm' && error === 'invalid_request' && !oidc.session?.accountId;
}
