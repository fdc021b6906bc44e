import type { Browser, Page, Response as PlaywrightResponse } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../integration/admin-support.js';
import { inNewContext, launchChromium } from '../support/chromium.js';
import { cancelAtUpstreamInChromium, confirmLogoutInChromium, interopEids, logInThroughInChromium, startInteropBed, type InteropBed, type InteropEid } from '../support/interop.js';
import { startChildServer } from '../support/process.js';
import { findFreePort } from '../support/redis.js';

/**
 * oidc-client-ts in a single-page app in chromium — the app of docs/examples/spa-oidc-client-ts,
 * served by its own server: signinRedirect, signinCallback, silent renew with a rotated
 * refresh token and in an iframe without one, signinPopup and signoutPopup, signoutRedirect.
 */

let bed: InteropBed;
/** Above the token requests of the tests before the last (two a login with a renewal, one a login without). */
const TOKEN_REQUESTS_PER_WINDOW = 8;
let appUrl: string;
/** The same app for a client without refresh tokens: signinSilent then renews in an iframe with prompt=none. */
let noRefreshAppUrl: string;
let chromium: Browser;

/** Registers a public client for the example app on a free port and serves the app for it; returns its address. */
async function startApp(clientId: string, registration: Record<string, unknown>): Promise<string> {
  const port = await findFreePort();
  const url = `http://127.0.0.1:${port}`;
  await createClient(bed.tb.issuer, {
    client_id: clientId,
    token_endpoint_auth_method: 'none',
    redirect_uris: [`${url}/`],
    post_logout_redirect_uris: [`${url}/logged-out`],
    display_name: 'Single-page app',
    ...registration,
  });
  await startChildServer(process.execPath, ['docs/examples/spa-oidc-client-ts/server.mjs'], {
    ready: 'single-page app at',
    env: { ISSUER: bed.tb.issuer, CLIENT_ID: clientId, PORT: String(port) },
  });
  return url;
}

beforeAll(async () => {
  chromium = await launchChromium();
  // Few token requests from one address: the last test renews until the limit refuses one.
  bed = await startInteropBed('interop-oidc-client-ts', { rate_limits: { token: { per_ip: TOKEN_REQUESTS_PER_WINDOW } } });
  appUrl = await startApp('spa-oidc-client-ts', { refresh_tokens_without_consent: true });
  // A cancel at the eID then reaches the app as the OIDC error, not the picker again.
  noRefreshAppUrl = await startApp('spa-without-refresh', { return_to_picker: false });
}, 60_000);

afterAll(() => chromium?.close());

/** The JSON the app shows once it shows something that `done` accepts. */
async function shown(page: Page, done: (value: Record<string, unknown>) => boolean, timeout?: number): Promise<Record<string, unknown>> {
  let value: Record<string, unknown> = {};
  await expect
    .poll(async () => {
      const text = (await page.textContent('#result')) ?? '';
      value = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      return done(value);
    }, { timeout })
    .toBe(true);
  return value;
}

/** A fresh browser for `use`, closed afterwards whatever happens. */
const inChromium = (use: (page: Page) => Promise<void>) => inNewContext(chromium, use);

/** Logs in at the app at `url` through `eid`, by signinRedirect; returns what the app shows then. */
async function signInAt(page: Page, url: string, eid: InteropEid = 'se-bankid'): Promise<Record<string, unknown>> {
  await page.goto(url);
  await shown(page, (value) => value.logged_in === false);
  await page.click('#login');
  await page.waitForURL(`${bed.tb.issuer}/interaction/**`);
  await logInThroughInChromium(bed, eid, page);
  await page.waitForURL(`${url}/`);
  return shown(page, (value) => 'profile' in value || 'error' in value);
}

describe.each(interopEids)('oidc-client-ts logging in through $eid', ({ eid, claims }) => {
  it('signs in, renews silently with a rotated refresh token, and signs out', async () => {
    await inChromium(async (page) => {
      const signedIn = await signInAt(page, appUrl, eid);
      expect(signedIn).toMatchObject({ profile: { ...claims, iss: bed.tb.issuer, aud: 'spa-oidc-client-ts' }, has_refresh_token: true });

      await page.click('#renew');
      const renewed = await shown(page, (value) => value.renewed === true || 'error' in value);
      expect(renewed).toMatchObject({ refresh_token_rotated: true, has_refresh_token: true, profile: { sub: (signedIn.profile as { sub: string }).sub } });

      await page.click('#logout');
      await page.waitForURL(`${bed.tb.issuer}/session/end**`);
      await confirmLogoutInChromium(page);
      await page.waitForURL(`${appUrl}/`);
      await shown(page, (value) => value.logged_out === true);
      await page.reload();
      await shown(page, (value) => value.logged_in === false);
    });
  });
});

describe('oidc-client-ts without a refresh token', () => {
  it("signinSilent's iframe with prompt=none gets the broker's login_required, which the broker's framing headers do not hold up", async () => {
    await inChromium(async (page) => {
      expect(await signInAt(page, noRefreshAppUrl)).toMatchObject({ has_refresh_token: false });
      await page.click('#renew');
      // The broker never reuses a login: prompt=none always answers login_required (README).
      expect(await shown(page, (value) => value.renewed === true || 'error' in value, 15_000)).toMatchObject({ error: 'login_required' });
    });
  });

  it("a cancel at the eID: signinCallback reports the broker's access_denied, with iss (RFC 9207) in the answer", async () => {
    await inChromium(async (page) => {
      await page.goto(noRefreshAppUrl);
      await shown(page, (value) => value.logged_in === false);
      await page.click('#login');
      await page.waitForURL(`${bed.tb.issuer}/interaction/**`);
      const answer = page.waitForRequest((request) => request.url().startsWith(`${noRefreshAppUrl}/?`));
      await cancelAtUpstreamInChromium(bed, page);
      expect(new URL((await answer).url()).searchParams.get('iss')).toBe(bed.tb.issuer);
      expect(await shown(page, (value) => 'error' in value)).toMatchObject({ error: 'access_denied', error_description: expect.any(String) });
    });
  });
});

describe('oidc-client-ts in a popup', () => {
  it('signinPopup logs in and hands the user to the page that opened it; signoutPopup logs out', async () => {
    await inChromium(async (page) => {
      await page.goto(appUrl);
      await shown(page, (value) => value.logged_in === false);
      // A script of the app's own origin (the page's CSP allows no other), as the app would run it.
      await page.evaluate(`(async () => {
        const { UserManager } = await import('/vendor/oidc-client-ts.js');
        const settings = await (await fetch('/settings.json')).json();
        window.popupUserManager = new UserManager({
          authority: settings.issuer,
          client_id: settings.client_id,
          redirect_uri: location.origin + '/',
          post_logout_redirect_uri: location.origin + '/logged-out',
          scope: 'openid profile personal_number eid',
          // userinfo from the app's script: the broker answers it with CORS for the client's origin.
          loadUserInfo: true,
        });
      })()`);
      const signInPopup = page.context().waitForEvent('page');
      const signedIn = page.evaluate('window.popupUserManager.signinPopup().then((user) => user.profile)');
      const popup = await signInPopup;
      await popup.waitForURL(`${bed.tb.issuer}/interaction/**`);
      await logInThroughInChromium(bed, 'se-bankid', popup);
      expect(await signedIn).toMatchObject({ iss: bed.tb.issuer, aud: 'spa-oidc-client-ts', idp: 'se-bankid' });

      const signOutPopup = page.context().waitForEvent('page');
      const signedOut = page.evaluate('window.popupUserManager.signoutPopup().then(() => window.popupUserManager.getUser())');
      const logoutPopup = await signOutPopup;
      await logoutPopup.waitForURL(`${bed.tb.issuer}/session/end**`);
      await confirmLogoutInChromium(logoutPopup);
      expect(await signedOut).toBeNull();
    });
  });
});

describe("the broker's own refusals reach the app's script", () => {
  it("a renewal over the token endpoint's rate limit: oidc-client-ts reports too_many_requests, not a failed fetch, and the app can read when to try again", async () => {
    await inChromium(async (page) => {
      expect(await signInAt(page, appUrl)).toHaveProperty('profile');
      const refusals: PlaywrightResponse[] = [];
      page.on('response', (response) => {
        if (response.url() === `${bed.tb.issuer}/token` && response.status() === 429) refusals.push(response);
      });
      // The window may turn meanwhile and count afresh: renew until a renewal is refused.
      let answer: Record<string, unknown> = {};
      for (let renewals = 0; renewals <= 2 * TOKEN_REQUESTS_PER_WINDOW && !('error' in answer); renewals++) {
        await page.$eval('#result', (result) => (result.textContent = ''));
        await page.click('#renew');
        answer = await shown(page, (value) => value.renewed === true || 'error' in value);
      }
      expect(answer).toMatchObject({ error: 'too_many_requests', error_description: expect.any(String) });
      const [refused] = refusals;
      expect(await refused!.headerValue('access-control-allow-origin')).toBe(appUrl);
      expect(await refused!.headerValue('access-control-expose-headers')).toMatch(/Retry-After/);
    });
  });
});
