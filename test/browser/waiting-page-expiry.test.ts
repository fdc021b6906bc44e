import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { expectAccessible, launchChromium, newPhone } from '../support/chromium.js';

/**
 * A waiting page left open until its login runs out (ttl.interaction and ttl.eid_extension,
 * short here): the person
 * who comes back to it must not find a QR code still changing, to scan and approve in the app
 * for a login that can no longer finish, but the page that says the login is over and leads
 * back to the service.
 */
let browser: Browser;
let tb: TestBroker;

/** Seconds a login has here to start an eID, and then to finish it: long enough to reach the QR code, short enough to wait out. */
const CHOOSING_SECONDS = 6;
const EXTENSION_SECONDS = 3;

beforeAll(async () => {
  [browser, tb] = await Promise.all([
    launchChromium(),
    startTestBroker(
      { demo: true, ttl: { interaction: CHOOSING_SECONDS, eid_extension: EXTENSION_SECONDS }, eids: { 'se-bankid': { mode: 'simulator' }, 'se-freja': { mode: 'simulator' } } },
      'waiting-page-expiry',
    ),
  ]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('a waiting page left open until the login runs out', () => {
  it.each(['se-bankid', 'se-freja'])('%s: the QR code goes, and the page says in Swedish that the login is over, with the way back to the service', async (eid) => {
    const context = await newPhone(browser, 'sv-SE');
    try {
      const page = await context.newPage();
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click(`button[value="${eid}"]`);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      // Nobody scans: the login runs out while the page waits on its event stream.
      await page.waitForSelector('dl.support', { timeout: (CHOOSING_SECONDS + EXTENSION_SECONDS + 15) * 1000 });
      expect(await page.textContent('h1')).toBe('Inloggningen är avslutad');
      expect(await page.locator('#qr').count()).toBe(0);
      expect(await page.textContent('a.button')).toBe('Tillbaka till Demotjänst');
      await expectAccessible(page, `${eid}: the login over`);
    } finally {
      await context.close();
    }
  }, 60_000);
});
