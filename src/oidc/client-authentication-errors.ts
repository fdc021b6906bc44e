import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AfterEndpoint } from './after-endpoints.js';

/** oidc-provider's endpoints at which a client authenticates: its refusals are RFC 6749 §5.2's. */
const CLIENT_AUTHENTICATING_ROUTES = ['token', 'revocation', 'introspection', 'pushed_authorization_request', 'backchannel_authentication'] as const;

/** oidc-provider's description of a request that names no client at all. */
const NO_CLIENT_AUTHENTICATION = 'no client authentication mechanism provided';

interface ErrorBody {
  error: string;
  error_description?: string;
}

function errorBody(ctx: KoaContextWithOIDC): ErrorBody | undefined {
  const { body } = ctx;
  return typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string' ? (body as ErrorBody) : undefined;
}

/** A quoted value of a challenge's parameter (RFC 9110 §5.6.4). */
function quoted(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * RFC 6749 §5.2 calls a request with no client authentication `invalid_client`, which
 * oidc-provider answers `invalid_request`, as if the client had built its request wrong. It is
 * answered 401 with the Basic challenge, which tells the client how to authenticate. And every
 * 401 carries a challenge (RFC 9110 §15.5.2): oidc-provider writes one only when the client
 * authenticated in the Authorization header, and answered an unknown client or a wrong secret in
 * the form body with a bare 401.
 */
export function clientAuthenticationErrors(): AfterEndpoint {
  return {
    routes: CLIENT_AUTHENTICATING_ROUTES,
    after(ctx) {
      const body = errorBody(ctx);
      if (!body) return;
      if (body.error === 'invalid_request' && body.error_description === NO_CLIENT_AUTHENTICATION) {
        ctx.status = 401;
        body.error = 'invalid_client';
      }
      if (ctx.status === 401 && !ctx.response.get('WWW-Authenticate')) {
        const description = body.error_description === undefined ? '' : `, error_description=${quoted(body.error_description)}`;
        ctx.set('WWW-Authenticate', `Basic realm=${quoted(ctx.oidc.issuer)}, error=${quoted(body.error)}${description}`);
      }
    },
  };
}
