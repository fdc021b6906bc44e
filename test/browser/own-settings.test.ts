import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { launchChromium, newPhone } from '../support/chromium.js';

/**
 * The pages for a person who reads them their own way, in a real chromium: with a screen reader
 * (what the waiting page's live status says, and how often), with a larger text size set in
 * the browser, and in their own language when something they did not cause goes wrong.
 */
let browser: Browser;
let tb: TestBroker;

beforeAll(async () => {
  browser = await launchChromium();
  tb = await startTestBroker({ demo: true, eids: { 'se-bankid': { mode: 'simulator', poll_frequency: 1 }, 'no-bankid': { mode: 'simulator' } } }, 'own-settings');
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

async function onPhone(use: (page: Page, context: BrowserContext) => Promise<void>, locale = 'en-GB') {
  const context = await newPhone(browser, locale);
  try {
    await use(await context.newPage(), context);
  } finally {
    await context.close();
  }
}

/**
 * Runs in the page: from now on, the text the status line holds after each change to it. A
 * screen reader reads a live region again at each such change. A string, since the tests are
 * not compiled for the DOM.
 */
const RECORD_STATUS_CHANGES = `(() => {
  const status = document.getElementById('status');
  const changes = [];
  new MutationObserver(() => changes.push(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true });
  window.statusChanges = changes;
})()`;

describe('the waiting page, through a screen reader', () => {
  it('says the status once: a page that polls (no event stream) does not set its live region again with the same words each second', async () => {
    await onPhone(async (page) => {
      let polls = 0;
      // No event stream, so that the page polls once a second; each answer carries the same status.
      await page.route('**/api/events', (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{}' }));
      page.on('request', (request) => {
        if (new URL(request.url()).pathname.endsWith('/api/poll')) polls += 1;
      });
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[value="se-bankid"]');
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      const said = await page.textContent('#status');
      expect(said).toBe('Open your BankID app and scan the QR code.');
      await page.evaluate(RECORD_STATUS_CHANGES);
      const pollsBefore = polls;
      await expect.poll(() => polls - pollsBefore, { timeout: 15_000 }).toBeGreaterThanOrEqual(4);
      // The QR code kept changing meanwhile; the status did not, and nothing was said again.
      expect(await page.textContent('#status')).toBe(said);
      expect(await page.evaluate('window.statusChanges')).toEqual([]);
    });
  }, 60_000);
});
