import type Provider from 'oidc-provider';
import { providerRoutePaths } from './endpoint-methods.js';

/** The schemes in which an Authorization header carries an access token to userinfo: Bearer (RFC 6750 §2.1) and DPoP (RFC 9449 §7.1). */
const ACCESS_TOKEN_SCHEME = /^(bearer|dpop)(\s|$)/i;

/**
 * At userinfo, an Authorization header of another scheme (Basic, Negotiate) carries no access
 * token: the request has no authentication userinfo takes, which RFC 6750 §3.1 answers with 401
 * and the Bearer challenge without an error code, so that the client learns how to authenticate.
 * oidc-provider took such a header for a malformed Bearer one and answered 400 invalid_request.
 * The header is set aside before oidc-provider reads it; a token sent in the form body beside it
 * is then the request's one way of sending a token, judged alone.
 */
export function otherAuthorizationSchemesUnauthenticated(provider: Provider): void {
  const userinfo = providerRoutePaths(provider).find(({ route }) => route === 'userinfo')?.path;
  provider.use((ctx, next) => {
    const { authorization } = ctx.headers;
    if (ctx.path === userinfo && authorization !== undefined && !ACCESS_TOKEN_SCHEME.test(authorization)) delete ctx.headers.authorization;
    return next();
  });
}
