import type { IncomingMessage } from 'node:http';
import type { Context, Middleware } from 'koa';
import { HttpError } from './errors.js';

/**
 * Every URL the broker builds — discovery, the logout form, where a login resumes, the
 * links on its pages — comes from the host and scheme Koa and oidc-provider read off the
 * request. A Host header is whatever the sender wrote, so unless a trusted proxy vouches for
 * them (`trust_proxy`, through X-Forwarded-Host/-Proto), each request is taken to be addressed
 * to the configured issuer: its Host and scheme are replaced by the issuer's before anything
 * reads them.
 *
 * A request target in absolute form (`GET http://elsewhere.example/.well-known/... HTTP/1.1`,
 * RFC 9112 §3.2.2) names a host as freely as Host does, and Koa takes it whole for the request's
 * URL (ctx.href), from which oidc-provider builds discovery's endpoints and the logout form's
 * action: it is cut to its path and query, the origin form every browser sends.
 *
 * Behind a trusted proxy the host and scheme it forwards are taken: with `trust_proxy` a number
 * of proxies, the value the outermost of them wrote (X-Forwarded-Host and -Proto as lists, read
 * from the end, as X-Forwarded-For is), never one the sender wrote before it — a proxy that adds
 * its value to the list rather than replacing it (Apache's mod_proxy) leaves the sender's first,
 * where Koa and oidc-provider would read it. They are taken only as a host and a
 * scheme: a value no URL can be built on (`a b`, `[::1`, a port past 65535, a scheme other than
 * http and https) is refused as a bad request instead of failing where the first URL is built,
 * as a 500.
 *
 * An HTTP/1.1 request without a Host header is refused (RFC 9112, section 3.2) here, as every
 * other bad request is: Node's own check, turned off in createHttpServer, answers 400 with no
 * body and no traceId.
 */
export function addressedToIssuer(issuer: string, trustProxy: boolean | number): Middleware {
  const { host, protocol } = new URL(issuer);
  const scheme = protocol.slice(0, -1);
  return (ctx, next) => {
    if (lacksHost(ctx.req)) throw new HttpError(400, 'invalid_request', 'The request has no Host header, which HTTP/1.1 requires.');
    toOriginForm(ctx);
    if (!trustProxy) {
      // The node request's header, so that oidc-provider's own contexts (interactionDetails) see it too.
      ctx.req.headers.host = host;
      Object.defineProperty(ctx.request, 'protocol', { value: scheme });
    } else {
      if (typeof trustProxy === 'number') keepTrustedForwarded(ctx.req, trustProxy);
      const refusal = forwardedOriginRefusal(ctx);
      if (refusal) throw refusal;
    }
    return next();
  };
}

/** Whether the request is one HTTP/1.1 requires a Host header of, and it has none. */
export function lacksHost(req: IncomingMessage): boolean {
  return req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1;
}

/** The scheme and authority of a request target in absolute form. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/** Rewrites a request target in absolute form to its origin form (path and query), where Koa and oidc-provider read it. */
function toOriginForm(ctx: Context): void {
  const target = ctx.req.url ?? '';
  const authority = ABSOLUTE_FORM.exec(target)?.[0];
  if (!authority) return;
  const rest = target.slice(authority.length);
  const originForm = rest.startsWith('/') ? rest : `/${rest}`;
  ctx.req.url = originForm;
  ctx.originalUrl = originForm;
  ctx.request.originalUrl = originForm;
}

/** The headers in which proxies say where a request was addressed. */
const FORWARDED_ORIGIN = ['x-forwarded-host', 'x-forwarded-proto'] as const;

/**
 * Leaves in each of FORWARDED_ORIGIN only the value the outermost of `proxies` trusted proxies
 * wrote: the one `proxies` from the end of the list, each proxy adding one (or the first, when
 * the proxies replaced the list). On the node request, so that oidc-provider's own contexts read it too.
 */
function keepTrustedForwarded(req: IncomingMessage, proxies: number): void {
  for (const name of FORWARDED_ORIGIN) {
    const values = req.headers[name]?.toString().split(',');
    if (values && values.length > 1) req.headers[name] = values[Math.max(0, values.length - proxies)]!.trim();
  }
}

/** A URL's authority: a host name or IPv4 address, or an IPv6 address in brackets, and an optional port. */
const AUTHORITY = /^(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/i;
const HIGHEST_PORT = 65_535;
const WEB_SCHEMES: ReadonlySet<string> = new Set(['http', 'https']);

/** Why the host or scheme a trusted proxy forwarded (else the request's own) can carry no URL, if it cannot. */
function forwardedOriginRefusal(ctx: Context): HttpError | undefined {
  // An HTTP/1.0 request may come without any host (a load balancer's health check): it is not refused for that.
  if (ctx.host === '') return undefined;
  const authority = AUTHORITY.exec(ctx.host);
  if (!authority || Number(authority[1] ?? 0) > HIGHEST_PORT) {
    return new HttpError(400, 'invalid_request', "The request's host (Host, or the proxy's X-Forwarded-Host) is not a host name with an optional port.");
  }
  if (!WEB_SCHEMES.has(ctx.protocol)) return new HttpError(400, 'invalid_request', "The proxy's X-Forwarded-Proto is neither http nor https.");
  return undefined;
}
