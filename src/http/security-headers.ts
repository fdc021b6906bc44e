import type { Middleware } from 'koa';

/**
 * No inline script or style anywhere; nothing may frame a page (clickjacking) and no page
 * leaks its URL, which can hold codes and states, through Referer. The CSP is set before the
 * provider runs because oidc-provider appends the hash of its own one-line auto-submit
 * scripts (form_post) to an existing script-src. form-action is left out on purpose: Chrome
 * applies it to the redirects after a form post, which go to clients and upstream eIDs.
 */
const directives: Record<string, string[]> = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'https:'],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'base-uri': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/** The policy, with `extra` directives for one page (the front-channel logout page's frame-src). */
export function contentSecurityPolicy(extra: Record<string, string[]> = {}): string {
  return Object.entries({ ...directives, ...extra })
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join('; ');
}

const CSP = contentSecurityPolicy();

/**
 * A year, the span browsers and the HSTS preload list expect. Subdomains are left out: they are
 * the operator's, and may well serve plain HTTP.
 */
const HSTS = 'max-age=31536000';

/**
 * The headers every answer carries, whichever way it is answered (the app, a kept poll's direct
 * answer, a refusal written to the socket). Behind an https issuer they tell the browser to come
 * back over https only (HSTS, RFC 6797), so that no one on the network can turn the next visit to
 * the login pages into plain HTTP; an http issuer (a machine of one's own) gets no such promise.
 */
export function securityHeadersFor(issuer: string): Readonly<Record<string, string>> {
  const https = new URL(issuer).protocol === 'https:';
  return Object.freeze({
    'Content-Security-Policy': CSP,
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Opener-Policy': 'same-origin',
    ...(https ? { 'Strict-Transport-Security': HSTS } : {}),
  });
}

export function securityHeaders(headers: Readonly<Record<string, string>>): Middleware {
  return (ctx, next) => {
    ctx.set(headers);
    return next();
  };
}
