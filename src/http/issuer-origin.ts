import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import { HttpError } from './errors.js';

/**
 * Every URL the broker builds — discovery, the logout form, where a login resumes, the
 * links on its pages — comes from the host and scheme Koa and oidc-provider read off the
 * request. A Host header is whatever the sender wrote, so unless a trusted proxy vouches for
 * them (`trust_proxy`, through X-Forwarded-Host/-Proto), each request is taken to be addressed
 * to the configured issuer: its Host and scheme are replaced by the issuer's before anything
 * reads them.
 *
 * An HTTP/1.1 request without a Host header is refused (RFC 9112, section 3.2) here, as every
 * other bad request is: Node's own check, turned off in createHttpServer, answers 400 with no
 * body and no traceId.
 */
export function addressedToIssuer(issuer: string, trustProxy: boolean): Middleware {
  const { host, protocol } = new URL(issuer);
  const scheme = protocol.slice(0, -1);
  return (ctx, next) => {
    if (lacksHost(ctx.req)) throw new HttpError(400, 'invalid_request', 'The request has no Host header, which HTTP/1.1 requires.');
    if (!trustProxy) {
      // The node request's header, so that oidc-provider's own contexts (interactionDetails) see it too.
      ctx.req.headers.host = host;
      Object.defineProperty(ctx.request, 'protocol', { value: scheme });
    }
    return next();
  };
}

/** Whether the request is one HTTP/1.1 requires a Host header of, and it has none. */
export function lacksHost(req: IncomingMessage): boolean {
  return req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1;
}
