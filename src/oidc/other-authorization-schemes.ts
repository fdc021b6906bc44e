import type Provider from 'oidc-provider';
import { providerRoutePaths } from './endpoint-methods.js';

/** The schemes in which an Authorization header carries an access token: Bearer (RFC 6750 §2.1) and DPoP (RFC 9449 §7.1). */
const ACCESS_TOKEN_SCHEME = /^(bearer|dpop)(\s|$)/i;

/**
 * oidc-provider's routes that a bearer token opens: userinfo (an access token), registration (an
 * initial access token, RFC 7591 §3) and a registered client's management (its registration
 * access token, RFC 7592 §2).
 */
const BEARER_ROUTES: ReadonlySet<string> = new Set(['userinfo', 'registration', 'client', 'client_update', 'client_delete']);

/**
 * At an endpoint a bearer token opens, an Authorization header of another scheme (Basic,
 * Negotiate) carries no token: the request has no authentication the endpoint takes, which RFC
 * 6750 §3.1 answers with 401 and the Bearer challenge without an error code, so that the client
 * learns how to authenticate. oidc-provider took such a header for a malformed Bearer one and
 * answered 400 invalid_request. The header is set aside before oidc-provider reads it; a token
 * sent in the form body beside it (userinfo) is then the request's one way of sending a token,
 * judged alone.
 */
export function otherAuthorizationSchemesUnauthenticated(provider: Provider): void {
  const paths = providerRoutePaths(provider).filter(({ route }) => BEARER_ROUTES.has(route));
  const opensWithBearer = (path: string) => paths.some((route) => (route.pattern ? route.pattern.test(path) : route.path === path));
  provider.use((ctx, next) => {
    const { authorization } = ctx.headers;
    if (authorization !== undefined && !ACCESS_TOKEN_SCHEME.test(authorization) && opensWithBearer(ctx.path)) delete ctx.headers.authorization;
    return next();
  });
}
