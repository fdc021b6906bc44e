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

/** The headers every answer carries, whichever way it is answered (the app, or a kept poll's direct answer). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': CSP,
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Opener-Policy': 'same-origin',
});

export function securityHeaders(): Middleware {
  return (ctx, next) => {
    ctx.set(SECURITY_HEADERS);
    return next();
  };
}
