import type { IncomingMessage } from 'node:http';
import type { Context, Middleware } from 'koa';
import { HttpError } from './errors.js';

/**
 * Every URL the broker builds — discovery, the logout form, where a login resumes, the
 * links on its pages — comes from the host and scheme Koa and oidc-provider read off the
 * request. A Host header is whatever the sender wrote, and so are X-Forwarded-Host and
 * X-Forwarded-Proto wherever a proxy passes on what it was sent (Apache's mod_proxy sets no
 * X-Forwarded-Proto; nginx forwards any Host its default server takes). So each request is taken
 * to be addressed to the configured issuer, with or without `trust_proxy`: its Host, forwarded
 * host and scheme are replaced by the issuer's before anything reads them. The discovery document
 * may be kept by shared caches (published-documents.ts): one built on a sender's host or scheme
 * would be served to everyone. `trust_proxy` is for the person's address (X-Forwarded-For) only.
 *
 * A request target in absolute form (`GET http://elsewhere.example/.well-known/... HTTP/1.1`,
 * RFC 9112 §3.2.2) names a host as freely as Host does, and Koa takes it whole for the request's
 * URL (ctx.href), from which oidc-provider builds discovery's endpoints and the logout form's
 * action: it is cut to its path and query, the origin form every browser sends.
 *
 * An HTTP/1.1 request without a Host header is refused (RFC 9112, section 3.2) here, as every
 * other bad request is: Node's own check, turned off in createHttpServer, answers 400 with no
 * body and no traceId.
 */
export function addressedToIssuer(issuer: string): Middleware {
  const { host, protocol } = new URL(issuer);
  const scheme = protocol.slice(0, -1);
  return (ctx, next) => {
    if (lacksHost(ctx.req)) throw new HttpError(400, 'invalid_request', 'The request has no Host header, which HTTP/1.1 requires.');
    toOriginForm(ctx);
    // On the node request, so that oidc-provider's own contexts (interactionDetails) read them too;
    // the forwarded ones for its app, which reads them behind a trusted proxy.
    Object.assign(ctx.req.headers, { host, 'x-forwarded-host': host, 'x-forwarded-proto': scheme });
    Object.defineProperty(ctx.request, 'protocol', { value: scheme });
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
