import { maxHeaderSize } from 'node:http';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { FORM_TYPE, readForm } from '../http/body.js';
import { HttpError } from '../http/errors.js';
import { parameterRefusal } from '../http/parameters.js';

/** An endpoint that oidc-provider takes by GET and the broker by POST too. */
interface GetEndpoint {
  /** Its path as the app sees it. */
  path: string;
  /** Its URL under the configured issuer: where a POST to it is sent on as a GET. */
  url: string;
  /** What a client whose request does not fit in that URL can do instead. */
  instead: string;
}

/**
 * The longest URL a POST is sent on to. Node takes a request's line and headers together up to
 * http.maxHeaderSize (16 KiB; a GET beyond it is refused before the app sees it, 431), so half of
 * that is left to the browser's own headers (its cookies, user agent, Accept…). RFC 9110 §4.1
 * asks every party to take at least 8000 octets.
 */
const MAX_LOCATION_BYTES = Math.floor(maxHeaderSize / 2);

/**
 * The endpoints OpenID Connect says take POST as well as GET, by oidc-provider's names for its
 * routes: authorization (Core §3.1.2.1) and RP-initiated logout (RP-Initiated Logout 1.0 §2).
 */
function postableEndpoints(provider: Provider): GetEndpoint[] {
  const appPath = (route: string) => provider.pathFor(route, { mountPath: '' });
  return [
    {
      path: appPath('authorization'),
      url: provider.urlFor('authorization'),
      instead: `Push it to ${provider.urlFor('pushed_authorization_request')} (PAR, RFC 9126) and send here only client_id and the request_uri it answers with.`,
    },
    {
      path: appPath('end_session'),
      url: provider.urlFor('end_session'),
      instead: 'Send fewer or shorter parameters (client_id in place of a long id_token_hint).',
    },
  ];
}

/** Parameters as Koa's `ctx.query` has them, which the GET's checks read: a repeated one as an array. */
function asQuery(params: URLSearchParams): Record<string, string | string[]> {
  return Object.fromEntries(
    [...new Set(params.keys())].map((name) => {
      const values = params.getAll(name);
      return [name, values.length === 1 ? values[0]! : values];
    }),
  );
}

/** A POST's parameters: its form, or none for an empty body (as a GET without a query). */
async function postedParameters(ctx: Context, maxBodyBytes: number): Promise<URLSearchParams> {
  if (ctx.is(FORM_TYPE)) return readForm(ctx, maxBodyBytes);
  if (!ctx.request.length) return new URLSearchParams();
  throw new HttpError(400, 'invalid_request', `Send the parameters as a form: Content-Type ${FORM_TYPE}.`);
}

/** Where the GET goes: the endpoint with the form's parameters as its query, repeated ones kept, in their order. */
function getLocation(endpoint: GetEndpoint, params: URLSearchParams): string {
  const parameterError = parameterRefusal(asQuery(params));
  if (parameterError) throw parameterError;
  const query = params.toString();
  const location = query ? `${endpoint.url}?${query}` : endpoint.url;
  if (location.length > MAX_LOCATION_BYTES) {
    throw new HttpError(400, 'invalid_request', `The request does not fit in a URL (at most ${MAX_LOCATION_BYTES} bytes). ${endpoint.instead}`);
  }
  return location;
}

/**
 * A form POSTed to the authorization or the logout endpoint is answered `303 See Other` to the
 * same endpoint by GET, with the form's parameters as the query; everything a GET there gets
 * (the parameter bounds, oidc-provider's checks, its errors at the redirect_uri) then applies
 * to it as it is. Taken in place, a POST from another site would arrive without the broker's
 * session cookie, which is SameSite=Lax: the browser sends it on a top-level GET only. The GET
 * that follows the 303 is such a navigation, so the request sees the person's session — the
 * logout ends the right one — while the cookie keeps SameSite=Lax (oidc-provider's own POST
 * support, enableHttpPostMethods, needs it SameSite=None).
 *
 * A repeated parameter stays repeated, so that oidc-provider refuses it as in a query; one
 * longer than the broker keeps is refused as in a query (boundedParameters); a request that
 * would not fit in a URL is refused with what to do instead. A query the POST itself carries is
 * left out, as oidc-provider leaves it out of a POST (OIDC Core §3.1.2.1: a POST's parameters
 * are its form).
 */
export function postedRequestsAsGet(provider: Provider, maxBodyBytes: number): Middleware {
  const endpoints = postableEndpoints(provider);
  // Not an async function itself: every other request passes straight on.
  return (ctx, next) => {
    const endpoint = ctx.method === 'POST' ? endpoints.find(({ path }) => path === ctx.path) : undefined;
    return endpoint ? sendOnAsGet(ctx, endpoint, maxBodyBytes) : next();
  };
}

async function sendOnAsGet(ctx: Context, endpoint: GetEndpoint, maxBodyBytes: number): Promise<void> {
  const location = getLocation(endpoint, await postedParameters(ctx, maxBodyBytes));
  ctx.status = 303;
  ctx.redirect(location);
}
