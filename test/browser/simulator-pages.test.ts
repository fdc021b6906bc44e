import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { launchChromium, newPhone } from '../support/chromium.js';

/**
 * The way through the upstream eIDs' simulators, as `npm start` runs them, in a real chromium:
 * from the picker to the simulator's page and back to the client, with nothing in the console
 * on any page on the way (a missing icon is a failed request, logged as an error).
 */
let browser: Browser;
let tb: TestBroker;

beforeAll(async () => {
  browser = await launchChromium();
  tb = await startTestBroker({ demo: true, eids: { 'no-bankid': { mode: 'simulator' }, 'cz-bankid': { mode: 'simulator' } } }, 'simulator-pages');
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** Every console error and uncaught exception of `page`, with the address it happened on. */
function consoleProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`${page.url()}: ${error.message}`));
  return problems;
}

describe("an upstream eID's simulator on the way", () => {
  it.each([
    ['no-bankid', 'form[action$="/login"] button'],
    ['cz-bankid', 'button[name="decision"][value="approve"]'],
  ])('%s: picker → its page → back at the client, with no console error on the way', async (eid, approve) => {
    const context = await newPhone(browser);
    try {
      const page = await context.newPage();
      const problems = consoleProblems(page);
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click(`button[value="${eid}"]`);
      await page.waitForSelector(approve);
      expect(new URL(page.url()).origin).not.toBe(tb.issuer);
      await page.click(approve);
      await page.waitForSelector('dl.claims');
      expect(await page.textContent('dl.claims')).toContain(eid);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
