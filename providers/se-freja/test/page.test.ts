import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../../test/support/broker.js';
import { drawnQrCode, expectAccessible, launchChromium, newPhone, PHONE_USER_AGENT, screenshot } from '../../../test/support/chromium.js';
import { startFrejaSimulator, type FrejaSimulator } from '../simulator/server.js';
import { frejaSection } from './support.js';

/**
 * The Freja eID page in chromium, from the demo client (which offers only Freja here): the QR
 * code it draws is read back from the canvas and scanned by the simulated app, the person
 * approves there, and lands back at the client; on this device, the simulated app opens in the
 * same browser and sends the person back. axe-core checks every step in every language.
 */
let browser: Browser;
let simulator: FrejaSimulator;
let tb: TestBroker;
/** A broker in simulator mode, whose launch link opens the simulated app in the same browser. */
let simulated: TestBroker;
/** A broker whose demo offers another eID too: a failure at Freja eID goes back to the picker. */
let withPicker: TestBroker;

beforeAll(async () => {
  browser = await launchChromium();
  simulator = await startFrejaSimulator();
  tb = await startTestBroker({ demo: true, eids: { 'se-freja': frejaSection(simulator) } }, 'freja-page');
  simulated = await startTestBroker({ demo: true, eids: { 'se-freja': { mode: 'simulator', poll_frequency: 1 } } }, 'freja-page-simulated');
  withPicker = await startTestBroker({ demo: true, eids: { 'test-double': {}, 'se-freja': frejaSection(simulator) } }, 'freja-page-picker');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await simulator?.close();
});

/** On the Freja eID page: the QR code, scanned by the simulated app, where the person declines; the page offers to try again. */
async function declineInTheApp(page: Page) {
  await page.click('#freja button[data-device="other"]');
  await page.waitForSelector('#qr:visible');
  const authRef = simulator.transactions().at(-1)!.authRef;
  simulator.scan(await drawnQrCode(page));
  await page.waitForSelector('#qr', { state: 'hidden' });
  simulator.decline(authRef);
  await page.waitForSelector('#retry:visible');
}

describe('the Freja eID page', () => {
  it.each(['en-GB', 'sv-SE', 'nb-NO', 'fi-FI', 'da-DK'])('in %s: the QR code drawn is scanned, the person approves in the app and lands at the client', async (locale) => {
    const context = await newPhone(browser, locale);
    try {
      const page = await context.newPage();
      await page.goto(`${tb.issuer}/demo/login`);
      await page.waitForSelector('#freja button[data-device="other"]:visible');
      await expectAccessible(page, `freja device (${locale})`);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      await expectAccessible(page, `freja qr (${locale})`);
      if (locale === 'en-GB') await screenshot(page, 'freja-qr');
      const authRef = simulator.transactions().at(-1)!.authRef;
      expect(await drawnQrCode(page)).toBe(`frejaeid://bindUserToTransaction?transactionReference=${encodeURIComponent(authRef)}`);
      simulator.scan(await drawnQrCode(page));
      await page.waitForSelector('#qr', { state: 'hidden' });
      await expectAccessible(page, `freja approve (${locale})`);
      simulator.approve(authRef, 0);
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('body')).toContain('se-freja');
    } finally {
      await context.close();
    }
  }, 60_000);

  it('on this device: the simulated app opens in the same browser, the person approves there and is sent back to the client', async () => {
    const context = await newPhone(browser, 'en-GB', { userAgent: PHONE_USER_AGENT });
    try {
      const page = await context.newPage();
      await page.goto(`${simulated.issuer}/demo/login`);
      await page.waitForSelector('#freja button[data-device="this"]:visible');
      // The page opens the launch link itself: the phone switches to the (simulated) app.
      await page.click('#freja button[data-device="this"]');
      await page.waitForSelector('form[action="/app/approve"]');
      await expectAccessible(page, 'simulated freja app');
      // The app sends the person back to the broker, which finishes the login.
      await Promise.all([
        page.waitForURL((url) => url.origin === simulated.issuer && /\/interaction\/[^/]+\/se-freja\/return$/.test(url.pathname)),
        page.click('form[action="/app/approve"] button'),
      ]);
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('body')).toContain('se-freja');
    } finally {
      await context.close();
    }
  }, 60_000);

  it('declined in the app: the page says so and offers to try again; going back ends at the client with access_denied', async () => {
    const context = await newPhone(browser, 'en-GB');
    try {
      const page = await context.newPage();
      await page.goto(`${tb.issuer}/demo/login`);
      await declineInTheApp(page);
      expect(await page.textContent('#status')).toBe('You declined the login in Freja eID.');
      await expectAccessible(page, 'freja declined');
      await page.click('#cancel');
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('body')).toContain('access_denied');
    } finally {
      await context.close();
    }
  }, 60_000);

  it('declined in the app, in a login with a picker: the way out is named for where it goes, choosing another way, as on the BankID page, and leads there', async () => {
    const context = await newPhone(browser, 'sv-SE');
    try {
      const page = await context.newPage();
      await page.goto(`${withPicker.issuer}/demo/login`);
      await page.click('button[value="se-freja"]');
      await declineInTheApp(page);
      expect(await page.textContent('#cancel')).toBe('Välj ett annat sätt att logga in');
      await page.click('#cancel');
      await page.waitForSelector('form.eids .notice, .notice');
      expect(await page.textContent('h1')).toBe('Välj hur du vill logga in');
    } finally {
      await context.close();
    }
  }, 60_000);
});
