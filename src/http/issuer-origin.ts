import type { Middleware } from 'koa';

/**
 * Every URL the broker builds — discovery, the logout form, where a login resumes, the
 * links on its pages — comes from the host and scheme Koa and oidc-provider read off the
 * request. A Host header is whatever the sender wrote, so unless a trusted proxy vouches for
 * them (`trust_proxy`, through X-Forwarded-Host/-Proto), each request is taken to be addressed
 * to the configured issuer: its Host and scheme are replaced by the issuer's before anything
 * reads them.
 */
export function addressedToIssuer(issuer: string, trustProxy: boolean): Middleware {
  const { host, protocol } = new URL(issuer);
  const scheme = protocol.slice(0, -1);
  return (ctx, next) => {
    if (!trustProxy) {
      // The node request's header, so that oidc-provider's own contexts (interactionDetails) see it too.
      ctx.req.headers.host = host;
      Object.defineProperty(ctx.request, 'protocol', { value: scheme });
    }
    return next();
  };
}
