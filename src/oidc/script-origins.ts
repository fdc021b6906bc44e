import type { Configuration } from 'oidc-provider';

/**
 * Which web origins may read the answers of the endpoints a client calls (CORS): the origins of
 * the client's redirect URIs, where its own pages run. At userinfo any client's, since a web
 * app's page may call it with the access token its backend handed over; at the token,
 * revocation, introspection and PAR endpoints only a public client's (a single-page app's): a
 * confidential client's secret never belongs in a page. An opaque origin ("null": a sandboxed
 * frame, a file) is nobody's.
 *
 * This is oidc-provider's own default, set here so that the policy is the broker's to read and
 * to keep: left to the default, oidc-provider prints a plain-text notice on stdout at the first
 * such request, a line among the JSON log's that log shippers refuse.
 */
export const clientScriptOrigins: NonNullable<Configuration['clientBasedCORS']> = (ctx, origin, client) => {
  if (origin === 'null') return false;
  if (ctx.oidc.route !== 'userinfo' && client.clientAuthMethod !== 'none') return false;
  return client.redirectUris?.some((uri) => URL.parse(uri)?.origin === origin) ?? false;
};
