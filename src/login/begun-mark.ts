import type { Context } from 'koa';
import type { AfterEndpoint } from '../oidc/after-endpoints.js';
import { siteCookieName } from '../http/site-cookies.js';

/**
 * The name of the cookie that marks a login as begun in this browser: `neb_begun_<uid>`, set with
 * the interaction cookies when the login begins (at /auth) and required with them on every route
 * under /interaction/<uid>. oidc-provider's interaction cookies cannot be `__Host-` (each has its
 * own login's path), so a page on a sibling subdomain could plant another browser's: the person
 * would identify, with their own eID, in a login begun in that other browser, whose return to the
 * client (its resume cookie) gives that browser the code for the person's identity. This one is
 * `__Host-` over https, and named by the login, so that logins begun at once in two tabs do not
 * overwrite each other's.
 */
export const begunCookie = (ctx: Context, uid: string) => siteCookieName(ctx, `neb_begun_${uid}`);

/**
 * Clears a login's begun mark once oidc-provider's resume has answered the client with the
 * login's result (a redirect, or the form it posts): the login is over then, and its pages say
 * so from the store whatever the cookie. It stayed until the login's expiry, one more cookie on
 * every request to the broker for each login of the last ten minutes. A resume that failed (the
 * store away, answered 503) keeps it, for the page's Try again; so does one that sends the
 * browser to a login's page again.
 */
export function begunMarkCleared(): AfterEndpoint {
  return {
    routes: ['resume'],
    after(ctx) {
      const uid = ctx.oidc.entities.Interaction?.uid;
      // A form post answers with a page and no Location at all, which Koa 3 gives as undefined.
      const location: string | undefined = ctx.response.get('location');
      if (!uid || ctx.status >= 400 || location?.startsWith('/interaction/')) return;
      ctx.cookies.set(begunCookie(ctx, uid), null, { httpOnly: true, sameSite: 'lax', overwrite: true });
    },
  };
}
