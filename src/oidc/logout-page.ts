import type { KoaContextWithOIDC } from 'oidc-provider';
import { clientNameIn, homePageIn } from '../clients/localized.js';
import { registeredOpenly } from '../clients/open-registration.js';
import type { Views } from '../http/views.js';
import type { AfterEndpoint } from './after-endpoints.js';
import { destinationName } from '../http/destination-name.js';
import { isLoggedOutPage } from './logout-language.js';

/**
 * What the logout confirmation says of the request it answers, beside its question: the client
 * that sent it (named by client_id or id_token_hint), in the page's language, and the host the
 * browser goes on to afterwards, whichever button the person presses (oidc-provider sends both on
 * to the post_logout_redirect_uri). For a client anyone registered, the page warns about that host
 * as the leaving page does: the person learns where they will be sent before they choose.
 */
export interface LogoutRequestShown {
  client?: string;
  onward?: { host: string; caution: boolean };
}

export function logoutRequestShown(ctx: KoaContextWithOIDC, views: Views): LogoutRequestShown {
  const { client, params } = ctx.oidc;
  if (!client) return {};
  const metadata = client.metadata();
  // oidc-provider has checked the address against the client's registered ones by now.
  const destination = typeof params?.post_logout_redirect_uri === 'string' ? URL.parse(params.post_logout_redirect_uri) : null;
  return {
    client: clientNameIn(metadata, views.localeOf(ctx)),
    ...(destination ? { onward: { host: destinationName(destination), caution: registeredOpenly(metadata) } } : {}),
  };
}

/**
 * The logged-out page's way back: the home page (client_uri) of the client the logout was for,
 * which oidc-provider names to the page by client_id (after "No"; loggedOutPageNamesClient adds
 * it after "Yes"). Not for a client anyone registered: the page's address needs no login, so its
 * link would be anyone's to show from the broker's origin.
 */
export function wayBackAfterLogout(ctx: KoaContextWithOIDC, views: Views): { wayBack?: { href: string; client: string } } {
  const metadata = ctx.oidc.client?.metadata();
  const wayBack = metadata && !registeredOpenly(metadata) ? homePageIn(metadata, views.localeOf(ctx)) : undefined;
  return wayBack ? { wayBack } : {};
}

/**
 * oidc-provider sends the logged-out page the logout's client_id after "No, stay logged in" only;
 * after "Yes" the page knew nothing of the client, and ended the person's way at "You can close
 * this window". The step names it there too (when the logout named one), before the front-channel
 * page, which goes on to that address.
 */
export function loggedOutPageNamesClient(): AfterEndpoint {
  return {
    routes: ['end_session_confirm'],
    after(ctx) {
      const { client } = ctx.oidc;
      const location = ctx.response.get('location');
      if (!client || !location) return;
      const to = new URL(location);
      if (!isLoggedOutPage(ctx, to) || to.searchParams.has('client_id')) return;
      to.searchParams.set('client_id', client.clientId);
      ctx.set('location', to.href);
    },
  };
}
