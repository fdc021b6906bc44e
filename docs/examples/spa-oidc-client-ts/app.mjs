// The single-page app: oidc-client-ts does the authorization code flow with PKCE in the
// browser, keeps the tokens in sessionStorage, and renews them with the refresh token.
import { UserManager, WebStorageStateStore } from '/vendor/oidc-client-ts.js';

const settings = await (await fetch('/settings.json')).json();
const userManager = new UserManager({
  authority: settings.issuer,
  client_id: settings.client_id,
  redirect_uri: `${location.origin}/`,
  post_logout_redirect_uri: `${location.origin}/logged-out`,
  // offline_access: a refresh token, for renewing without sending the person anywhere. The
  // broker gives one to a client registered with refresh_tokens_without_consent.
  scope: 'openid profile personal_number eid offline_access',
  userStore: new WebStorageStateStore({ store: sessionStorage }),
  // By default oidc-client-ts drops acr and amr from the profile; they say which eID and level
  // the person used, so this app keeps them.
  filterProtocolClaims: ['nbf', 'jti', 'auth_time', 'nonce', 'azp', 'at_hash', 'iat', 'exp'],
});

const result = document.getElementById('result');
const show = (value) => {
  result.textContent = JSON.stringify(value, null, 2);
};

/** What the app knows about the person, never the tokens themselves. */
const summary = (user) => ({ profile: user.profile, scopes: user.scopes, expires_in: user.expires_in, has_refresh_token: Boolean(user.refresh_token) });

async function start() {
  const query = new URLSearchParams(location.search);
  if (query.has('code') || query.has('error')) {
    // Back from the broker's login: redeem the code (or read the error), then tidy the address bar.
    try {
      show(summary(await userManager.signinCallback()));
    } catch (error) {
      show({ error: error.error ?? error.message, error_description: error.error_description });
    }
    history.replaceState(null, '', '/');
    return;
  }
  if (location.pathname === '/logged-out') {
    // Back from RP-initiated logout; signoutRedirect already forgot the tokens.
    await userManager.signoutCallback();
    history.replaceState(null, '', '/');
    show({ logged_out: true });
    return;
  }
  const user = await userManager.getUser();
  show(user ? summary(user) : { logged_in: false });
}

document.getElementById('login').addEventListener('click', () => userManager.signinRedirect());
document.getElementById('renew').addEventListener('click', async () => {
  const before = await userManager.getUser();
  try {
    // With a refresh token, signinSilent uses the refresh_token grant: no iframe, no redirect.
    const after = await userManager.signinSilent();
    show({ ...summary(after), renewed: true, refresh_token_rotated: after.refresh_token !== before?.refresh_token });
  } catch (error) {
    // The broker's refusal: invalid_grant (log in again), or too_many_requests and
    // temporarily_unavailable (try again later; the tokens held still stand).
    show({ error: error.error ?? error.message, error_description: error.error_description });
  }
});
document.getElementById('logout').addEventListener('click', () => userManager.signoutRedirect());

start().catch((error) => show({ error: error.message }));
