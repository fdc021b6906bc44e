import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { siteCookieName } from './site-cookies.js';

/** A random id of this browser, kept a year: others get only its hash. */
const BROWSER_COOKIE = 'neb_browser';
const BROWSER_COOKIE_MAX_AGE_MS = 365 * 24 * 3600 * 1000;
const BROWSER_COOKIE_FORM = /^[A-Za-z0-9_-]{32}$/;

const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');

/** The hash of the browser's id, when it has one. */
export function knownBrowserId(ctx: Context): string | undefined {
  const id = ctx.cookies.get(siteCookieName(ctx, BROWSER_COOKIE));
  return id && BROWSER_COOKIE_FORM.test(id) ? hashOf(id) : undefined;
}

/** The hash of the browser's id, given one first when it has none (`LoginRequest.browserId`). */
export function browserId(ctx: Context): string {
  const known = knownBrowserId(ctx);
  if (known) return known;
  const id = randomBytes(24).toString('base64url');
  ctx.cookies.set(siteCookieName(ctx, BROWSER_COOKIE), id, { httpOnly: true, sameSite: 'lax', maxAge: BROWSER_COOKIE_MAX_AGE_MS, overwrite: true });
  return hashOf(id);
}
