import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AfterEndpoint } from './after-endpoints.js';

/** oidc-provider's endpoints at which a client authenticates: its refusals are RFC 6749 §5.2's. */
const CLIENT_AUTHENTICATING_ROUTES = ['token', 'revocation', 'introspection', 'pushed_authorization_request', 'backchannel_authentication'] as const;

/**
 * oidc-provider's descriptions of the invalid_request it answers a client that did not
 * authenticate in a way the broker takes: one that names no client at all, and one whose
 * Authorization header is of another scheme (Bearer) or is no Basic credential (not base64, no
 * colon). RFC 6749 §5.2 calls both invalid_client: no client authentication, an unsupported
 * method, or a failed attempt in the Authorization header, which must be answered 401.
 */
const NOT_AUTHENTICATED: ReadonlySet<string> = new Set(['no client authentication mechanism provided', 'invalid authorization header value format']);

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
 * RFC 6749 §5.2 calls a request with no client authentication, or with one the broker cannot
 * read, `invalid_client`, which oidc-provider answers `invalid_request`, as if the client had
 * built its request wrong. It is answered 401 with the Basic challenge, which tells the client how
 * to authenticate. And every
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
      if (body.error === 'invalid_request' && NOT_AUTHENTICATED.has(body.error_description ?? '')) {
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
