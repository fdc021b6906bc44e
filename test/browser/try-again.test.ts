import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { expectAccessible, launchChromium, newPhone, screenshot } from '../support/chromium.js';
import { windowStart } from '../support/rate-windows.js';
import { startRedisServer, type RedisServer } from '../support/redis.js';

/**
 * The pages that say "not now" — too many requests (429), busy or unable to reach the store
 * (503) — in a real chromium: each offers Try again in the person's language, waits out the
 * answer's Retry-After with a countdown that the status line announces once, when it is over,
 * and then asks again: a GET by loading its address again, a POST by going back to its form.
 * Without JavaScript the page says in words what to do.
 */
let browser: Browser;
/** Lets one authorization request through per address and window. */
let authLimited: TestBroker;
/** Lets one eID start through per address and window. */
let startLimited: TestBroker;
/** On a Redis of its own, which the test takes down. */
let outage: TestBroker;
let redis: RedisServer;

/** Long enough for a test's two requests to fall in one window on a loaded machine. */
const WINDOW = 10;
const off = { per_ip: 0 };
const eids = { 'test-double': {}, 'other-double': {} };

beforeAll(async () => {
  browser = await launchChromium();
  redis = await startRedisServer();
  const limits = (limited: 'auth' | 'eid_start') => ({
    rate_limits: { window_seconds: WINDOW, auth: off, token: { ...off, per_client: 0 }, eid_start: off, [limited]: { per_ip: 1 } },
  });
  [authLimited, startLimited, outage] = await Promise.all([
    startTestBroker({ demo: true, eids, ...limits('auth') }, 'try-again-auth'),
    startTestBroker({ demo: true, eids, ...limits('eid_start') }, 'try-again-start'),
    startTestBroker(
      { demo: true, eids, redis: { url: redis.url, key_prefix: 'try-again:' }, cookie_keys: ['k'.repeat(32)], subject_secret: 's'.repeat(32) },
      'try-again-outage',
    ),
  ]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await redis?.stop();
});

/** A fresh phone-sized browser for `use`, closed afterwards whatever happens. */
async function onPhone(use: (page: Page) => Promise<void>, locale = 'en-GB', options: BrowserContextOptions = {}) {
  const context = await newPhone(browser, locale, options);
  try {
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

/** Runs in the page: from now on, each text the status line takes, as a screen reader hears it. */
const RECORD_STATUS = `(() => {
  const status = document.querySelector('#try-again [role="status"]');
  window.statusSaid = [];
  new MutationObserver(() => window.statusSaid.push(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true });
})()`;

/**
 * On a page that says "not now" with a wait: the button waits, the countdown shows, the words
 * for a page without script are gone; once the wait is over the button is there to press, and
 * the status line has said so once.
 */
async function waitOutTheCountdown(page: Page, texts: { button: string; waiting: RegExp; ready: string }) {
  await page.evaluate(RECORD_STATUS);
  const button = page.locator('#try-again button');
  expect(await button.textContent()).toBe(texts.button);
  expect(await button.isDisabled()).toBe(true);
  expect(await page.textContent('#try-again-wait')).toMatch(texts.waiting);
  expect(await page.isHidden('#try-again-words')).toBe(true);
  await expectAccessible(page, 'try-again-waiting');
  await page.waitForSelector('#try-again button:enabled', { timeout: (WINDOW + 5) * 1000 });
  expect(await page.isHidden('#try-again-wait')).toBe(true);
  expect(await page.evaluate('window.statusSaid')).toEqual([texts.ready]);
  await expectAccessible(page, 'try-again-ready');
}

describe('too many requests (429)', () => {
  it('to a GET: Try again counts down the Retry-After, then loads the same address again, which now goes on to the picker', async () => {
    await onPhone(async (page) => {
      await windowStart(WINDOW);
      await page.goto(`${authLimited.issuer}/demo/login`);
      await page.waitForSelector('form.eids');
      const refused = await page.goto(`${authLimited.issuer}/demo/login`);
      expect(refused?.status()).toBe(429);
      const address = page.url();
      expect(new URL(address).pathname).toBe('/auth');
      // The page repeats nothing of the request it refused.
      const html = await page.content();
      for (const name of ['state', 'nonce', 'code_challenge', 'redirect_uri']) expect(html).not.toContain(new URL(address).searchParams.get(name));
      expect(await page.textContent('h1')).toBe('Something went wrong');
      await screenshot(page, 'try-again-429');
      await waitOutTheCountdown(page, { button: 'Try again', waiting: /^You can try again in \d+ s\.$/, ready: 'You can try again now.' });

      const again = page.waitForRequest((request) => request.url() === address);
      await page.click('#try-again button');
      expect((await again).method()).toBe('GET');
      await page.waitForSelector('form.eids');
      expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//);
    });
  }, 60_000);

  it('to a POST (the picker\'s choice): Go back and try again, in Swedish, returns to the picker, where the choice is made again', async () => {
    await onPhone(
      async (page) => {
        await windowStart(WINDOW);
        await page.goto(`${startLimited.issuer}/demo/login`);
        await page.click('button[value="test-double"]');
        await page.waitForURL(/\/test-double\//);

        await page.goto(`${startLimited.issuer}/demo/login`);
        await page.waitForSelector('form.eids');
        const picker = page.url();
        const [refused] = await Promise.all([page.waitForResponse((response) => response.request().method() === 'POST'), page.click('button[value="test-double"]')]);
        expect(refused.status()).toBe(429);
        await page.waitForSelector('#try-again');
        expect(await page.textContent('h1')).toBe('Något gick fel');
        // Leaving the login stays, beside trying again.
        expect(await page.textContent('form button[type="submit"]')).toBe('Tillbaka till tjänsten');
        await waitOutTheCountdown(page, { button: 'Gå tillbaka och försök igen', waiting: /^Du kan försöka igen om \d+ s\.$/, ready: 'Nu kan du försöka igen.' });

        await page.click('#try-again button');
        await page.waitForURL(picker);
        await page.waitForSelector('form.eids');
        await page.click('button[value="test-double"]');
        await page.waitForURL(/\/test-double\//);
      },
      'sv-SE',
    );
  }, 60_000);
});

describe('the store out of reach (503)', () => {
  it('says in words, without JavaScript, to reload the page in a moment; with it, Try again loads the page again, and the login goes on once the store is back', async () => {
    await redis.stop();
    await expect.poll(() => outage.broker.store.available, { timeout: 10_000 }).toBe(false);
    await onPhone(
      async (page) => {
        const refused = await page.goto(`${outage.issuer}/demo/login`);
        expect(refused?.status()).toBe(503);
        expect(await page.textContent('#try-again-words')).toBe('Odota hetki ja lataa sitten sivu uudelleen.');
        expect(await page.isVisible('#try-again-words')).toBe(true);
        // No button that would do nothing without script.
        expect(await page.isHidden('#try-again')).toBe(true);
      },
      'fi-FI',
      { javaScriptEnabled: false },
    );

    await onPhone(async (page) => {
      const refused = await page.goto(`${outage.issuer}/demo/login`);
      expect(refused?.status()).toBe(503);
      await page.waitForSelector('#try-again button:enabled');
      expect(await page.textContent('#try-again button')).toBe('Try again');
      await redis.start();
      await expect.poll(() => outage.broker.store.available, { timeout: 10_000 }).toBe(true);
      await page.click('#try-again button');
      await page.waitForSelector('form.eids');
    });
  }, 60_000);
});
