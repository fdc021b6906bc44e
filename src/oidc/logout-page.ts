import type { KoaContextWithOIDC } from 'oidc-provider';
import { clientNameIn } from '../clients/localized.js';
import { registeredOpenly } from '../clients/registration.js';
import type { Views } from '../http/views.js';
import { destinationName } from './leaving-page.js';

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
