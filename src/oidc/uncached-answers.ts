import type { AfterEndpoint } from './after-endpoints.js';

/**
 * The endpoints whose answers carry tokens, credentials or personal data: the token response
 * (code, refresh, CIBA), userinfo, introspection, a pushed request's request_uri, CIBA's
 * auth_req_id, and a registered client's secret.
 */
const ROUTES_WITH_CREDENTIALS = [
  'token',
  'userinfo',
  'introspection',
  'pushed_authorization_request',
  'backchannel_authentication',
  'registration',
  'client',
  'client_update',
] as const;

/**
 * RFC 6749 §5.1 asks for `Pragma: no-cache` beside `Cache-Control: no-store` on every answer with
 * tokens or credentials: an HTTP/1.0 cache or proxy on the way knows only Pragma. oidc-provider
 * sets Cache-Control alone; the broker adds Pragma wherever it did, errors included.
 */
export function uncachedAnswers(): AfterEndpoint {
  return {
    routes: ROUTES_WITH_CREDENTIALS,
    after(ctx) {
      if (ctx.response.get('Cache-Control') === 'no-store') ctx.set('Pragma', 'no-cache');
    },
  };
}
