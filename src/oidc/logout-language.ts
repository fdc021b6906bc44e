import type { KoaContextWithOIDC } from 'oidc-provider';
import { isLocale } from '../http/locale.js';
import type { LocaleState } from '../http/views.js';
import type { AfterEndpoint } from './after-endpoints.js';

/**
 * RP-Initiated Logout 1.0 §2: the client's ui_locales is the language of the logout's pages. The
 * confirmation page is drawn for the request that carries it; the pages after the person's answer
 * are not — the front-channel page answers the confirmation's POST, the logged-out page a redirect
 * of oidc-provider's, and neither carries ui_locales. So the confirmation form posts the language
 * its page was drawn in (views/logout.eta), and the language goes on from there: to the pages drawn
 * for that POST, and in the address of the logged-out page, which takes it from its query.
 */

/** The confirmation form's field, and the logged-out page's query parameter, that carry the language. */
export const LOGOUT_LANGUAGE = 'ui_locales';

/** The step after the person's answer: the language of the pages it leads to. */
export function logoutLanguage(): AfterEndpoint {
  return {
    routes: ['end_session_confirm'],
    after(ctx) {
      const language = languageOfAnswer(ctx);
      if (!language) return;
      const location = ctx.response.get('location');
      if (!location) return;
      const to = new URL(location);
      if (!isLoggedOutPage(ctx, to)) return;
      to.searchParams.set(LOGOUT_LANGUAGE, language);
      ctx.set('location', to.href);
    },
  };
}

/** Whether an address is the broker's own logged-out page, rather than a client's post_logout_redirect_uri. */
export function isLoggedOutPage(ctx: KoaContextWithOIDC, to: URL): boolean {
  return `${to.origin}${to.pathname}` === ctx.oidc.urlFor('end_session_success');
}

/** The pages drawn for the person's answer are in the language the confirmation form posted (which it returns, if it is one). */
export function languageOfAnswer(ctx: KoaContextWithOIDC): string | undefined {
  const language = ctx.oidc.body?.[LOGOUT_LANGUAGE];
  if (!isLocale(language)) return undefined;
  (ctx.state as LocaleState).uiLocales = language;
  return language;
}

/** The logged-out page is drawn in the language its address carries. */
export function languageOfLoggedOutPage(ctx: KoaContextWithOIDC): void {
  const language = ctx.query[LOGOUT_LANGUAGE];
  if (isLocale(language)) (ctx.state as LocaleState).uiLocales = language;
}
