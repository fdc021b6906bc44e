import { maxHeaderSize } from 'node:http';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { FORM_TYPE, readForm } from '../http/body.js';
import { HttpError } from '../http/errors.js';
import { parameterRefusal } from '../http/parameters.js';
import { SEALED_FORM, sealedFormRefusal, type SealedForms } from './sealed-forms.js';

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
 * The longest URL a POST is sent on to, its form sealed. Node takes a request's line and headers together up to
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

/**
 * What of a form the GET carries in clear beside it, sealed: its client_id, if it has one (and
 * only one), which names no one and tells an access log which client sent the person.
 */
function inClear(form: URLSearchParams): Array<[string, string]> {
  const clientIds = form.getAll('client_id');
  return clientIds.length === 1 ? [['client_id', clientIds[0]!]] : [];
}

/** The broker's own query parameter that a page's language links add (Views), which a GET with a sealed form may carry too. */
const PAGE_LANGUAGE = 'lang';

/**
 * Where the GET goes: the endpoint with the form's client_id and the form sealed as its query, the
 * form's parameters, repeated ones kept, in their order inside. A form that would not fit in a URL
 * once sealed is refused with what to do instead.
 */
function getLocation(endpoint: GetEndpoint, form: URLSearchParams, forms: SealedForms): string {
  const parameterError = parameterRefusal(asQuery(form));
  if (parameterError) throw parameterError;
  if (form.size === 0) return endpoint.url;
  const query = new URLSearchParams([...inClear(form), [SEALED_FORM, forms.seal(endpoint.path, form)]]);
  const location = `${endpoint.url}?${query}`;
  if (location.length > MAX_LOCATION_BYTES) {
    throw new HttpError(
      400,
      'invalid_request',
      `The request does not fit in a URL once sealed (at most ${MAX_LOCATION_BYTES} bytes; sealing makes it about a third longer). ${endpoint.instead}`,
    );
  }
  return location;
}

/** `params` without `name`, sorted: to compare two queries whatever the order of their parameters. */
function sortedWithout(params: URLSearchParams, name: string): string {
  const rest = new URLSearchParams([...params].filter(([key]) => key !== name));
  rest.sort();
  return rest.toString();
}

/**
 * The query the GET after a POST is answered with: the form it carries sealed, opened, and the
 * page's language if a language link added it. Besides the sealed form the GET may carry only
 * what the broker put there, its client_id, and the language: anything else (a parameter added to
 * override one of the form's) is refused, not merged.
 */
function openedQuery(sent: URLSearchParams, endpoint: GetEndpoint, forms: SealedForms): string {
  const sealed = sent.getAll(SEALED_FORM);
  if (sealed.length !== 1) throw sealedFormRefusal(`${SEALED_FORM} is repeated: send the request again.`);
  const form = forms.open(endpoint.path, sealed[0]!);
  const expected = new URLSearchParams([...inClear(form), [SEALED_FORM, sealed[0]!]]);
  if (sortedWithout(sent, PAGE_LANGUAGE) !== sortedWithout(expected, PAGE_LANGUAGE)) {
    throw sealedFormRefusal(`A request with ${SEALED_FORM} carries no other parameters than the client_id sealed in it: send them in the form.`);
  }
  for (const language of sent.getAll(PAGE_LANGUAGE)) form.append(PAGE_LANGUAGE, language);
  return form.toString();
}

/**
 * A form POSTed to the authorization or the logout endpoint is answered `303 See Other` to the
 * same endpoint by GET, with the form sealed in the query (SealedForms) beside its client_id;
 * that GET, here again, is answered with the form opened as its query, so that everything a GET
 * with those parameters gets (the parameter bounds, oidc-provider's checks — a client that must
 * push its requests is still refused —, its errors at the redirect_uri) applies to it as it is.
 * A client POSTs to keep what it sends (a login_hint with a personal number, an id_token_hint)
 * out of URLs, and sealed it stays out of the browser's history and of every log on the way; it
 * opens for a few minutes only, so that a copy of the URL is soon of no use. Nothing is written
 * for it: any instance opens what another sealed.
 *
 * Why a GET: taken in place, a POST from another site would arrive without the broker's session
 * cookie, which is SameSite=Lax: the browser sends it on a top-level GET only. The GET that
 * follows the 303 is such a navigation, so the request sees the person's session — the logout
 * ends the right one — while the cookie keeps SameSite=Lax (oidc-provider's own POST support,
 * enableHttpPostMethods, needs it SameSite=None).
 *
 * A repeated parameter stays repeated, so that oidc-provider refuses it as in a query; one
 * longer than the broker keeps is refused as in a query (boundedParameters); a request that
 * would not fit in a URL is refused with what to do instead. A query the POST itself carries is
 * left out, as oidc-provider leaves it out of a POST (OIDC Core §3.1.2.1: a POST's parameters
 * are its form).
 */
export function postedRequestsAsGet(provider: Provider, maxBodyBytes: number, forms: SealedForms): Middleware {
  const endpoints = postableEndpoints(provider);
  // Not an async function itself: every other request passes straight on.
  return (ctx, next) => {
    const endpoint = endpoints.find(({ path }) => path === ctx.path);
    if (!endpoint) return next();
    if (ctx.method === 'POST') return sendOnAsGet(ctx, endpoint, maxBodyBytes, forms);
    if (ctx.method === 'GET' || ctx.method === 'HEAD') openSealedForm(ctx, endpoint, forms);
    return next();
  };
}

async function sendOnAsGet(ctx: Context, endpoint: GetEndpoint, maxBodyBytes: number, forms: SealedForms): Promise<void> {
  const location = getLocation(endpoint, await postedParameters(ctx, maxBodyBytes), forms);
  ctx.status = 303;
  ctx.redirect(location);
}

/** A GET that carries a sealed form goes on with the form opened as its query; any other as it came. */
function openSealedForm(ctx: Context, endpoint: GetEndpoint, forms: SealedForms): void {
  const sent = new URLSearchParams(ctx.querystring);
  if (sent.has(SEALED_FORM)) ctx.querystring = openedQuery(sent, endpoint, forms);
}
