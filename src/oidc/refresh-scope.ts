import type { AdapterPayload, KoaContextWithOIDC } from 'oidc-provider';

/**
 * A client registered with refresh_tokens_without_consent that asks for offline_access gets a
 * refresh token, but oidc-provider takes offline_access out of the request's scope (OIDC Core §11
 * wants prompt=consent with it), so the token's scope lacks it. A client that sends its scope
 * again when it refreshes — mod_auth_openidc sends the one it is configured with — was then
 * refused with invalid_scope ("refresh token missing requested scope"): the one scope missing
 * was the offline access the refresh token is. Such a request asks for what the client already
 * holds, so offline_access leaves its scope, which is then checked as ever against the token's.
 */
export function offlineAccessHeld(ctx: KoaContextWithOIDC | undefined, refreshToken: AdapterPayload): void {
  const params = ctx?.oidc?.route === 'token' ? ctx.oidc.params : undefined;
  if (params?.grant_type !== 'refresh_token' || typeof params.scope !== 'string') return;
  const requested = params.scope.split(' ');
  const held = String(refreshToken.scope ?? '').split(' ');
  if (!requested.includes('offline_access') || held.includes('offline_access')) return;
  params.scope = requested.filter((scope) => scope !== 'offline_access').join(' ') || undefined;
}
