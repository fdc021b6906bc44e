import type { Context, Middleware } from 'koa';

/** What a script of another origin must be able to read of a refusal: when to ask again, and why a bearer token was refused. */
const EXPOSED_HEADERS = ['Retry-After', 'WWW-Authenticate'];

/** oidc-provider's router gives every request it routes a context of its own (`ctx.oidc`); its CORS step ran for those. */
const routedByProvider = (ctx: Context): boolean => 'oidc' in ctx;

/** A refusal of the broker's own, answered before oidc-provider: readable from the request's origin. */
function allowOrigin(ctx: Context): void {
  ctx.vary('Origin');
  ctx.set('Access-Control-Allow-Origin', ctx.get('Origin'));
  ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS.join(', '));
}

/**
 * A refusal of oidc-provider's that its CORS step let the origin read, and that says when to try
 * again (a 503 while the store failed inside the endpoint): its Retry-After is readable too, which
 * oidc-provider does not expose.
 */
function exposeRetryAfter(ctx: Context): void {
  if (!ctx.response.get('Access-Control-Allow-Origin') || !ctx.response.get('Retry-After')) return;
  const exposed = ctx.response.get('Access-Control-Expose-Headers');
  if (!/\bRetry-After\b/i.test(exposed)) ctx.set('Access-Control-Expose-Headers', exposed ? `${exposed}, Retry-After` : 'Retry-After');
}

/**
 * The broker's own refusals at the addresses single-page apps call from their scripts (those of
 * oidc-provider's endpoints that answer CORS: token, userinfo, revocation, introspection, PAR,
 * discovery, the JWKS) — a rate limit's 429, a 503 while the store is down or the process too
 * busy, a body too large or compressed — are answered before oidc-provider, whose CORS step would
 * let the app's script read them. Without it the browser gives the script a network error, and the
 * app cannot tell a limit or an outage (with its Retry-After) from a broker it cannot reach:
 * oidc-client-ts reports a failed fetch. Such a refusal carries the request's origin, as
 * oidc-provider's own errors do before it knows the client: it holds no token and no claim.
 * Answers oidc-provider gave keep what its CORS step decided, an origin it refused included.
 */
export function corsOnOwnRefusals(isCorsAddress: (path: string) => boolean): Middleware {
  return (ctx, next) => {
    if (!ctx.get('Origin') || ctx.method === 'OPTIONS' || !isCorsAddress(ctx.path)) return next();
    return next().then(() => {
      if (ctx.status < 400) return;
      if (routedByProvider(ctx)) exposeRetryAfter(ctx);
      else allowOrigin(ctx);
    });
  };
}
