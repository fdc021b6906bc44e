import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Views } from '../http/views.js';
import { contentSecurityPolicy } from '../http/security-headers.js';
import { registeredOpenly } from '../clients/open-registration.js';
import { destinationName } from '../http/destination-name.js';
import type { AfterEndpoint } from './after-endpoints.js';
import { formOfFormPostPage } from './form-post-page.js';
import { isLoggedOutPage } from './logout-language.js';

/**
 * A client registered with no initial access token (open registration) is anyone's, with any
 * redirect_uri. An authorization request of its own that fails on purpose (prompt=none, a
 * response type the broker does not serve) would have the broker send a person's browser from
 * its own trusted origin straight on to that address: an open redirect (RFC 9700 §4.11.2). For
 * such a client an error answer stops at a page on the broker's origin that names where it leads,
 * and goes on only when the person chooses to, by a link or button that carries the very answer
 * the redirect or form post would have: nothing moves on by itself.
 *
 * A login that succeeds goes on as ever: the person chose to log in to that client, on pages that
 * named it, and finished the login at their eID; no one can send them there without that.
 *
 * RP-initiated logout is the same open redirect when the browser has no login at the broker:
 * oidc-provider asks nothing then, posts the confirmation itself, and sends the browser on to the
 * client's post_logout_redirect_uri (leavingAfterLogout).
 */

/** The answer the person may take on: a link (response modes query and fragment) or a form (form_post). */
type Onward = { href: string } | { form: { action: string; fields: Array<[string, string]> } };

/** An error answer of oidc-provider's on its way to the client: where it goes, how, and its error code. */
interface ErrorAnswer {
  destination: URL;
  onward: Onward;
  code: string;
}

/**
 * The error answer in the response oidc-provider has made, or undefined for any other: its form
 * page (form_post), or its redirect (303) to the client with the answer in the query or, for
 * response_mode fragment, in the fragment (a registered redirect_uri has none of its own).
 */
function errorAnswerOf(ctx: KoaContextWithOIDC): ErrorAnswer | undefined {
  const form = formOfFormPostPage(ctx.body);
  if (form) {
    const code = form.fields.find(([name]) => name === 'error')?.[1];
    return code === undefined ? undefined : { destination: new URL(form.action), onward: { form }, code };
  }
  const location = ctx.status === 303 ? ctx.response.get('Location') : '';
  // A path alone (the login's page, /interaction/<uid>) is the broker's own: no answer to a client.
  const destination = URL.parse(location);
  if (!destination) return undefined;
  const answer = destination.hash ? new URLSearchParams(destination.hash.slice(1)) : destination.searchParams;
  const code = answer.get('error');
  return code === null ? undefined : { destination, onward: { href: location }, code };
}

/** The page, in place of the error answer of a client anyone registered, at the endpoints that give one. */
export function leavingPage(views: Views): AfterEndpoint {
  return {
    routes: ['authorization', 'resume'],
    after(ctx) {
      // The answer first: a client's metadata() is a fresh copy of every field, made at each call.
      const answer = errorAnswerOf(ctx);
      const client = ctx.oidc.client;
      if (!answer || !client || !registeredOpenly(client.metadata())) return;
      ctx.remove('Location');
      // oidc-provider allowed its form page's inline script by its hash: this page has none.
      ctx.set('Content-Security-Policy', contentSecurityPolicy());
      // Language links would ask the authorization again, or a login's return that is over.
      views.render(ctx, 'leaving', { ...answer.onward, host: destinationName(answer.destination), code: answer.code, languageLinks: false });
      ctx.status = 400;
    },
  };
}

/**
 * The logged-out page, in place of the redirect on to the post_logout_redirect_uri of a client
 * anyone registered, when the logout asked the person nothing. The step can tell both once the
 * confirmation has answered, though oidc-provider has saved or destroyed the session inside its
 * route by then: the client is the one the logout named (oidc-provider finds it again for the
 * answer), and the session object keeps its login (accountId) when destroyed. A session with a
 * login was asked on the broker's confirmation page, and answered there (its front-channel page
 * then goes on as the person chose); one without was not, and gets the page. Dropping the address
 * instead would leave the person at a dead end, with no way back to the client they came from.
 */
export function leavingAfterLogout(views: Views): AfterEndpoint {
  return {
    routes: ['end_session_confirm'],
    after(ctx) {
      const { client, session } = ctx.oidc;
      if (!client || !registeredOpenly(client.metadata()) || session?.accountId) return;
      const destination = ctx.status === 303 ? URL.parse(ctx.response.get('Location')) : null;
      if (!destination || isLoggedOutPage(ctx, destination)) return;
      ctx.remove('Location');
      ctx.status = 200;
      views.render(ctx, 'logged-out', { stillLoggedIn: false, onward: { href: destination.href, host: destinationName(destination) } });
    },
  };
}
