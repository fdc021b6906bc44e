import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { launchChromium, newPhone } from '../support/chromium.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * RP-Initiated Logout 1.0 §2: the client's ui_locales is the language of the logout's pages — the
 * confirmation, and after the person's answer the front-channel page and the logged-out page —
 * in a real chromium whose own language is another (en-GB).
 */

let tb: TestBroker;
let receiver: Receiver;
let browser: Browser;

const SECRET = 'a-logout-language-client-secret-long-enough-0123';

beforeAll(async () => {
  browser = await launchChromium();
  receiver = await startReceiver();
  const relyingParty = (id: string, extra: Record<string, unknown> = {}) => ({
    client_id: id,
    client_secret: SECRET,
    redirect_uris: [`${receiver.origin}/${id}/callback`],
    ...extra,
  });
  tb = await startTestBroker({ clients: [relyingParty('plain'), relyingParty('framed', { frontchannel_logout_uri: `${receiver.origin}/framed/frontchannel` })] }, 'logout-language');
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** The person logs in to `clientId` in this page through the test-double eID, and asks to log out with ui_locales=fi. */
async function askToLogOutInFinnish(page: Page, clientId: string) {
  const rp = await RelyingParty.discover(tb.issuer, { client_id: clientId, client_secret: SECRET, redirect_uris: [`${receiver.origin}/${clientId}/callback`] });
  await page.goto((await rp.authorizationUrl()).href);
  await page.goto(`${page.url()}?person=0`);
  const tokens = await rp.redeem(new URL(page.url()));
  await page.goto(client.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, ui_locales: 'fi' }).href);
  expect(await page.getAttribute('html', 'lang')).toBe('fi');
}

describe('the language of a logout', () => {
  it.each([
    ['logs out', 'yes', 'Olet kirjautunut ulos'],
    // The page says what happened: "No, stay logged in" leads to it too, and the person is not logged out.
    ['stays logged in', undefined, 'Olet yhä kirjautuneena'],
  ])('is the one ui_locales asked for on the page after the answer too, when the person %s', async (_answer, value, heading) => {
    const context = await newPhone(browser);
    try {
      const page = await context.newPage();
      await askToLogOutInFinnish(page, 'plain');
      await page.click(value ? `button[name="logout"][value="${value}"]` : 'button.secondary');
      await page.waitForURL(new RegExp(`^${tb.issuer}/session/end/success`));
      expect(await page.getAttribute('html', 'lang')).toBe('fi');
      expect(await page.textContent('h1')).toBe(heading);
    } finally {
      await context.close();
    }
  });

  it('is the one ui_locales asked for on the logged-out page of a logout without a login to end', async () => {
    const context = await newPhone(browser);
    try {
      const page = await context.newPage();
      await page.goto(`${tb.issuer}/session/end?ui_locales=fi`);
      await page.waitForURL(new RegExp(`^${tb.issuer}/session/end/success`));
      expect(await page.getAttribute('html', 'lang')).toBe('fi');
    } finally {
      await context.close();
    }
  });

  it('is the one ui_locales asked for on the front-channel page and the logged-out page after it', async () => {
    const context = await newPhone(browser);
    try {
      const page = await context.newPage();
      await askToLogOutInFinnish(page, 'framed');
      // The client's logout page is held until the page of frames has been read: the page goes on once its frames have loaded.
      let releaseFrame = () => {};
      const frameHeld = new Promise<void>((resolve) => (releaseFrame = resolve));
      await page.route(`${receiver.origin}/framed/frontchannel**`, async (route) => {
        await frameHeld;
        await route.continue();
      });
      await page.click('button[name="logout"][value="yes"]');
      await page.waitForURL(`${tb.issuer}/session/end/confirm`, { waitUntil: 'domcontentloaded' });
      expect(await page.getAttribute('html', 'lang')).toBe('fi');
      releaseFrame();
      await page.waitForURL(new RegExp(`^${tb.issuer}/session/end/success`));
      expect(await page.getAttribute('html', 'lang')).toBe('fi');
    } finally {
      await context.close();
    }
  });
});
