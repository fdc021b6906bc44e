import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulatedPersons } from '../../providers/se-bankid/simulator/persons.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { expectAccessible, launchChromium, newPhone, screenshot } from '../support/chromium.js';

/**
 * Swedish BankID on this device, walked in a real chromium on a phone, as `npm start` runs it:
 * the broker's own simulator, whose app page plays the BankID app the launch link opens. Nothing
 * is driven through an API: the person only clicks.
 */
let browser: Browser;
let tb: TestBroker;

/** A phone's browser says it is one; the BankID page chooses the launch link by it. */
const ANDROID_CHROME = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

beforeAll(async () => {
  browser = await launchChromium();
  // With one eID the picker would be skipped; the test double makes it a choice.
  tb = await startTestBroker({ demo: true, eids: { 'test-double': {}, 'se-bankid': { mode: 'simulator', poll_frequency: 1 } } }, 'same-device');
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** The simulated app's page, on the simulator's own origin. */
const onAppPage = (url: URL) => url.origin !== tb.issuer && url.pathname === '/app';

/**
 * Runs in the page: whether it fits the screen's width, and every claim name stays on one line.
 * A string, since the tests are not compiled for the DOM.
 */
const NOTHING_OVERFLOWS = `(() => {
  const root = document.documentElement;
  const lines = (element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
  };
  return {
    pageFits: root.scrollWidth <= root.clientWidth,
    namesOnOneLine: [...document.querySelectorAll('.claims dt')].every((name) => lines(name) === 1),
  };
})()`;

async function onAndroidPhone(use: (page: Page) => Promise<void>) {
  const context = await newPhone(browser, 'sv-SE', { userAgent: ANDROID_CHROME });
  try {
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

describe('Swedish BankID on this device, on a phone', () => {
  it('picker → BankID → this device → the app → identify → back at the broker → the demo shows the claims', async () => {
    await onAndroidPhone(async (page) => {
      const person = simulatedPersons[1]!;
      await page.goto(`${tb.issuer}/demo/login`);
      await page.waitForSelector('form.eids');
      await screenshot(page, 'same-device-1-picker');

      await page.click('button[value="se-bankid"]');
      await page.waitForSelector('button[data-device="this"]:visible');
      await screenshot(page, 'same-device-2-device-choice');

      // The page opens the launch link itself: the phone switches to the BankID app.
      await page.click('button[data-device="this"]');
      await page.waitForURL(onAppPage);
      await page.waitForSelector('form[action="/app/identify"]');
      await screenshot(page, 'same-device-3-app');

      // The app sends the person back to the order's returnUrl on the broker, which finishes the login.
      await Promise.all([
        page.waitForURL((url) => url.origin === tb.issuer && /\/interaction\/[^/]+\/se-bankid\/return$/.test(url.pathname)),
        page.click(`form[action="/app/identify"]:has(input[value="${person.personalNumber}"]) button`),
      ]);
      await page.waitForURL(/\/demo\/callback/);
      await page.waitForSelector('dl.claims');
      await screenshot(page, 'same-device-4-demo-claims');
      await expectAccessible(page, 'demo result (sv)');

      const body = await page.textContent('body');
      expect(body).toContain(person.personalNumber);
      expect(body).toContain('urn:nordic-eid:se:bankid:same-device');
      // The demo speaks the person's language, and its long values wrap inside the phone's width.
      expect(await page.textContent('h1')).toBe('Demotjänst');
      expect(await page.evaluate(NOTHING_OVERFLOWS)).toEqual({ pageFits: true, namesOnOneLine: true });
    });
  }, 90_000);
});

describe("a return link from the app that is not the login's order's (an earlier try's)", () => {
  it('says so in Swedish, without blaming the service, and goes on with the login under way', async () => {
    await onAndroidPhone(async (page) => {
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[value="se-bankid"]');
      await page.click('button[data-device="this"]');
      await page.waitForURL(onAppPage);
      await page.goBack();
      await page.waitForSelector('#open:visible');
      const bankIdPage = new URL(page.url());
      await page.goto(`${bankIdPage.origin}${bankIdPage.pathname}return?nonce=an-earlier-orders-nonce`);
      expect(await page.textContent('p.lead')).toBe('Länken tillbaka från appen hör till ett tidigare försök, inte till inloggningen som pågår. Fortsätt logga in här.');
      await expectAccessible(page, 'an earlier return link (sv)');
      await page.click('a.button');
      await page.waitForSelector('#open:visible');
      expect(new URL(page.url()).pathname).toBe(bankIdPage.pathname);
      expect(await page.textContent('h1')).toBe('Logga in med svenskt BankID');
    });
  }, 60_000);
});
