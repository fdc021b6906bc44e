import type { Middleware } from 'koa';
import { HttpError } from './errors.js';

/**
 * The longest value, in characters, of each OpenID Connect parameter the broker keeps for a
 * while (in a login's interaction, a logout's session) or passes on. Generous for every real
 * client, small enough that an anonymous request cannot make the store hold kilobytes.
 */
const maxLengths: Record<string, number> = {
  client_id: 200,
  response_type: 64,
  response_mode: 64,
  scope: 1024,
  redirect_uri: 2048,
  post_logout_redirect_uri: 2048,
  // A client's own record of the request may travel in it: ASP.NET Core's encrypted state holds
  // the return URL, which behind an identity hub is the hub's whole authorization request.
  state: 4096,
  nonce: 512,
  code_challenge: 128,
  code_challenge_method: 16,
  prompt: 64,
  max_age: 16,
  display: 32,
  ui_locales: 128,
  claims_locales: 128,
  acr_values: 1024,
  login_hint: 256,
  logout_hint: 256,
  id_token_hint: 8192,
  request_uri: 2048,
  resource: 2048,
};

/** maxLengths as pairs, made once: every request is checked against them. */
const limits = Object.entries(maxLengths);

/** The first parameter in `params` that is longer than the broker keeps, if any. */
export function tooLongParameter(params: Record<string, unknown>): { name: string; max: number } | undefined {
  for (const [name, max] of limits) {
    const value = params[name];
    if (typeof value === 'string' && value.length > max) return { name, max };
    if (Array.isArray(value) && value.some((item) => typeof item === 'string' && item.length > max)) return { name, max };
  }
  return undefined;
}

export const tooLongDescription = ({ name, max }: { name: string; max: number }) => `${name} is too long (at most ${max} characters).`;

/**
 * How deep the JSON of a claims parameter or a request object may nest. A request for a claim is
 * three levels (`{id_token: {claim: {value}}}`), the deepest in use (OpenID Connect for Identity
 * Assurance's verified_claims) about ten. oidc-provider copies and serialises these recursively
 * (JSON.stringify, structuredClone, saving a code): a few thousand levels, which fit in an
 * authorization URL, overflow the stack there and answer 500 — a request object's before its
 * signature is even checked.
 */
export const MAX_JSON_DEPTH = 32;

/** Whether `value` holds objects or arrays more than `depth` levels deep (it looks no deeper than that). */
export function nestedDeeperThan(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth === 0) return true;
  return Object.values(value).some((item) => nestedDeeperThan(item, depth - 1));
}

/** Whether the payload of a request object (a JWS) nests deeper than MAX_JSON_DEPTH; one that cannot be read is oidc-provider's to refuse. */
function requestObjectTooDeep(jws: string): boolean {
  const payload = jws.split('.')[1];
  if (!payload) return false;
  try {
    return nestedDeeperThan(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')), MAX_JSON_DEPTH);
  } catch {
    return false;
  }
}

/**
 * Why boundedParameters refuses a query parsed as Koa's `ctx.query` (a repeated parameter as an
 * array), if it does: an OpenID Connect parameter longer than the broker keeps, or a request
 * object nested deeper than MAX_JSON_DEPTH.
 */
export function parameterRefusal(query: Record<string, unknown>): HttpError | undefined {
  const tooLong = tooLongParameter(query);
  if (tooLong) return new HttpError(400, 'invalid_request', tooLongDescription(tooLong));
  const { request } = query;
  if (typeof request === 'string' && requestObjectTooDeep(request)) {
    return new HttpError(400, 'invalid_request', `request: its JSON is nested more than ${MAX_JSON_DEPTH} levels deep.`);
  }
  return undefined;
}

/**
 * Refuses a request whose query carries an OpenID Connect parameter longer than the broker
 * keeps, or a request object nested deeper than MAX_JSON_DEPTH (invalid_request), before
 * anything stores or reads it: authorization requests, logout.
 */
export function boundedParameters(): Middleware {
  return (ctx, next) => {
    // Most requests (the token endpoint's, every POST of the pages) have no query: nothing to parse or bound.
    if (!ctx.querystring) return next();
    const refusal = parameterRefusal(ctx.query);
    if (refusal) throw refusal;
    return next();
  };
}
