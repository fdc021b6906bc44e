import type { Browser, Page, Response as PlaywrightResponse } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../integration/admin-support.js';
import { launchChromium } from '../support/chromium.js';
import { confirmLogoutInChromium, interopEids, logInThroughInChromium, startInteropBed, type InteropBed } from '../support/interop.js';
import { startChildServer } from '../support/process.js';
import { findFreePort } from '../support/redis.js';

/**
 * oidc-client-ts in a single-page app in chromium — the app of docs/examples/spa-oidc-client-ts,
 * served by its own server: signinRedirect, signinCallback, silent renew with a rotated
 * refresh token, signoutRedirect.
 */

let bed: InteropBed;
/** Above the token requests of the logins and renewals before the last test (two a login). */
const TOKEN_REQUESTS_PER_WINDOW = 8;
let appUrl: string;
let chromium: Browser;

beforeAll(async () => {
  chromium = await launchChromium();
  // Few token requests from one address: the last test renews until the limit refuses one.
  bed = await startInteropBed('interop-oidc-client-ts', { rate_limits: { token: { per_ip: TOKEN_REQUESTS_PER_WINDOW } } });
  const port = await findFreePort();
  appUrl = `http://127.0.0.1:${port}`;
  await createClient(bed.tb.issuer, {
    client_id: 'spa-oidc-client-ts',
    token_endpoint_auth_method: 'none',
    redirect_uris: [`${appUrl}/`],
    post_logout_redirect_uris: [`${appUrl}/logged-out`],
    refresh_tokens_without_consent: true,
    display_name: 'Single-page app',
  });
  await startChildServer(process.execPath, ['docs/examples/spa-oidc-client-ts/server.mjs'], {
    ready: 'single-page app at',
    env: { ISSUER: bed.tb.issuer, CLIENT_ID: 'spa-oidc-client-ts', PORT: String(port) },
  });
}, 60_000);

afterAll(() => chromium?.close());

/** The JSON the app shows once it shows something that `done` accepts. */
async function shown(page: Page, done: (value: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  let value: Record<string, unknown> = {};
  await expect
    .poll(async () => {
      const text = (await page.textContent('#result')) ?? '';
      value = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      return done(value);
    })
    .toBe(true);
  return value;
}

describe.each(interopEids)('oidc-client-ts logging in through $eid', ({ eid, claims }) => {
  it('signs in, renews silently with a rotated refresh token, and signs out', async () => {
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      await page.goto(appUrl);
      await shown(page, (value) => value.logged_in === false);
      await page.click('#login');
      await page.waitForURL(`${bed.tb.issuer}/interaction/**`);
      await logInThroughInChromium(bed, eid, page);
      await page.waitForURL(`${appUrl}/`);
      const signedIn = await shown(page, (value) => 'profile' in value || 'error' in value);
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
    } finally {
      await context.close();
    }
  });
});

describe("the broker's own refusals reach the app's script", () => {
  it("a renewal over the token endpoint's rate limit: oidc-client-ts reports too_many_requests, not a failed fetch, and the app can read when to try again", async () => {
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      await page.goto(appUrl);
      await page.click('#login');
      await page.waitForURL(`${bed.tb.issuer}/interaction/**`);
      await logInThroughInChromium(bed, 'se-bankid', page);
      await page.waitForURL(`${appUrl}/`);
      await shown(page, (value) => 'profile' in value);
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
    } finally {
      await context.close();
    }
  });
});
