import type { EventEmitter } from 'node:events';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * `text` in the characters an OAuth error_description may hold (RFC 6749 §5.2: printable ASCII
 * without `"` and `\`), for a description that names what a client sent: a schema's message
 * quoting an unknown key, a metadata field's name.
 */
export function asErrorDescription(text: string): string {
  return text.replaceAll('"', "'").replaceAll('\\', '/').replace(/[^\x20-\x7e]/g, '?');
}

/** Errors oidc-provider answers with no error_description, and the broker's words for them. */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  request_uri_not_supported:
    'request_uri is taken only at the authorization endpoint, and only as the one the pushed authorization request endpoint (PAR, RFC 9126) answered with: a request object by reference is not supported. Send the request itself, or push it first.',
};

/** The error events of oidc-provider's endpoints that answer a client with JSON: PAR's and CIBA's. */
const JSON_ENDPOINT_ERRORS = ['pushed_authorization_request.error', 'backchannel_authentication.error'];

/**
 * A token request with a grant type the broker serves but the client is not registered for (a
 * refresh token of a client registered without the refresh_token grant, or whose grant an operator
 * removed since): RFC 6749 §5.2 calls that unauthorized_client, where oidc-provider answers
 * invalid_request, which a client takes for a request it built wrong.
 */
function grantTypeNotAllowed(ctx: KoaContextWithOIDC): void {
  const { body } = ctx;
  const grantType = ctx.oidc?.params?.grant_type;
  if (!isErrorBody(body) || body.error !== 'invalid_request' || typeof grantType !== 'string') return;
  if (ctx.oidc.client && !ctx.oidc.client.grantTypeAllowed(grantType)) ctx.body = { ...body, error: 'unauthorized_client' };
}

function isErrorBody(body: unknown): body is { error: string; error_description?: string } {
  return typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string';
}

/**
 * Gives an error oidc-provider answers without a description (DESCRIPTIONS) one, and a token
 * request's grant the client does not hold its RFC 6749 name, as the error passes out of an
 * endpoint that answers with JSON: its error handler has set the body when it emits the
 * endpoint's error event. The authorization endpoint's redirect to the client is left
 * as oidc-provider makes it: it copies the error into the redirect before any event, and its own
 * response modes (query, fragment, form_post) cannot be replaced by the broker's.
 */
export function describeProviderErrors(provider: Provider): void {
  // oidc-provider's types name CIBA's error event but not PAR's, which it emits all the same.
  const events: EventEmitter = provider;
  events.on('grant.error', grantTypeNotAllowed);
  for (const event of JSON_ENDPOINT_ERRORS) {
    events.on(event, (ctx: KoaContextWithOIDC) => {
      const { body } = ctx;
      if (!isErrorBody(body) || body.error_description !== undefined) return;
      const description = DESCRIPTIONS[body.error];
      if (description) ctx.body = { ...body, error_description: description };
    });
  }
}
