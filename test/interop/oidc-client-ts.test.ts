import type { Browser, Page } from 'playwright-core';
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
let appUrl: string;
let chromium: Browser;

beforeAll(async () => {
  chromium = await launchChromium();
  bed = await startInteropBed('interop-oidc-client-ts');
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
