import { scopeClaims } from './people.js';

/** The relying party registered at the simulated Bank iD. */
export interface RegisteredClient {
  client_id: string;
  client_secret: string;
  /** Compared as exact strings, as Bank iD does. */
  redirect_uris: readonly string[];
  /** The scopes enabled for the client in Bank iD's developer portal. */
  scopes: readonly string[];
}

/** An authorization request that passed every check, waiting for the person's decision. */
export interface AuthorizationRequest {
  client: RegisteredClient;
  redirectUri: string;
  state: string;
  nonce: string;
  scopes: string[];
  codeChallenge: string;
  bankId?: string;
  /** The languages the relying party asked the page to speak, most wanted first. */
  uiLocales?: string;
  /** The relying party's own 32-character trace id, when it sent one. */
  traceId?: string;
}

/** No redirect: the client or its redirect_uri is not to be trusted (HTTP 400 JSON). */
export interface RefusedRequest {
  refused: { error: 'invalid_client_metadata' | 'invalid_redirect_uri'; error_description: string };
}

/** A trustworthy client asked for something wrong: the error goes back to its redirect_uri. */
export interface ErrorRedirect {
  redirect: URL;
}

export const supportedScopes = ['openid', ...Object.keys(scopeClaims)];

const PROMPTS = new Set(['none', 'login', 'consent']);
const TRACE_ID = /^[a-zA-Z0-9]{32}$/;
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** An authorization response on the client's redirect_uri (query, as Bank iD answers). */
export function responseUrl(redirectUri: string, params: Record<string, string | undefined>): URL {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url;
}

/**
 * Checks an authorization request as strictly as Bank iD documents it: state and nonce are
 * mandatory, PKCE S256 (which Bank iD offers and the simulator demands, since the broker always
 * uses it), only `loa3`, only query responses, scopes enabled for the client.
 */
export function checkAuthorizationRequest(
  query: Record<string, string | undefined>,
  clients: ReadonlyMap<string, RegisteredClient>,
): AuthorizationRequest | RefusedRequest | ErrorRedirect {
  const client = clients.get(query.client_id ?? '');
  if (!client) return { refused: { error: 'invalid_client_metadata', error_description: 'unknown client_id' } };
  const redirectUri = query.redirect_uri ?? '';
  if (!client.redirect_uris.includes(redirectUri)) return { refused: { error: 'invalid_redirect_uri', error_description: 'redirect_uri is not registered for this client' } };

  const fail = (error: string, description: string): ErrorRedirect => ({
    redirect: responseUrl(redirectUri, { error, error_description: description, state: query.state }),
  });
  if (query.response_type !== 'code') return fail('unsupported_response_type', 'response_type must be code');
  if (query.response_mode !== undefined && query.response_mode !== 'query') return fail('invalid_request', 'response_mode must be query');
  if (!query.state) return fail('invalid_request', 'state is required');
  if (!query.nonce) return fail('invalid_request', 'nonce is required');
  if (query.code_challenge_method !== 'S256' || !S256_CHALLENGE.test(query.code_challenge ?? '')) return fail('invalid_request', 'PKCE with S256 is required');
  const scopes = (query.scope ?? '').split(' ').filter(Boolean);
  if (!scopes.includes('openid')) return fail('invalid_scope', 'openid is required');
  if (scopes.some((scope) => !client.scopes.includes(scope))) return fail('invalid_scope', 'a scope is not enabled for this client');
  if (query.acr_values !== undefined && query.acr_values !== 'loa3') return fail('invalid_request', 'acr_values must be loa3');
  const prompts = (query.prompt ?? 'login').split(' ');
  if (prompts.some((prompt) => !PROMPTS.has(prompt)) || (prompts.includes('none') && prompts.length > 1)) return fail('invalid_request', 'unsupported prompt');
  // The simulator keeps no session, so a login without asking the person cannot happen.
  if (prompts.includes('none')) return fail('login_required', 'the person must log in');
  if (query.trace_id !== undefined && !TRACE_ID.test(query.trace_id)) return fail('invalid_request', 'trace_id must be 32 letters and digits');

  return {
    client,
    redirectUri,
    state: query.state,
    nonce: query.nonce,
    scopes,
    codeChallenge: query.code_challenge!,
    ...(query.bank_id ? { bankId: query.bank_id } : {}),
    ...(query.ui_locales ? { uiLocales: query.ui_locales } : {}),
    ...(query.trace_id ? { traceId: query.trace_id } : {}),
  };
}
