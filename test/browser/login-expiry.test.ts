import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection } from '../../providers/se-bankid/test/support.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { expectAccessible, launchChromium, viewports } from '../support/chromium.js';

/** The broker's ttl.interaction here: the time a login has to choose and start an eID. */
const CHOOSING_SECONDS = 5;

let browser: Browser;
let bankId: BankIdSimulator;
let tb: TestBroker;

beforeAll(async () => {
  const pki = await createTestPki();
  bankId = await startBankIdSimulator({ pki });
  [browser, tb] = await Promise.all([
    launchChromium(),
    // The demo client offers only BankID: its login goes straight to the BankID page.
    startTestBroker({ demo: true, ttl: { interaction: CHOOSING_SECONDS }, eids: { 'se-bankid': bankIdSection(bankId, pki) } }, 'expiry-page'),
  ]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await bankId?.close();
});

describe('a person who lingers on the BankID page past ttl.interaction', () => {
  it('reads that the time to start the login ran out, and the way back takes the client access_denied', async () => {
    const context = await browser.newContext({ viewport: viewports.desktop, locale: 'en-GB' });
    try {
      const page = await context.newPage();
      const begun = Date.now();
      await page.goto(`${tb.issuer}/demo/login`);
      await page.waitForSelector('#bankid');
      await sleep(Math.max(0, begun + (CHOOSING_SECONDS + 1.5) * 1000 - Date.now()));

      // The device chosen at last: the start is refused, and the page goes to the login's own.
      await page.click('button[data-device="other"]');
      await page.waitForURL(/\/interaction\/[^/]+\/$/);
      expect(await page.textContent('main')).toContain('The time to start your login ran out, so this login has ended.');
      await expectAccessible(page, 'the page of a login whose time to start ran out');
      expect(bankId.orders()).toEqual([]);

      await page.click('a.button');
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('main')).toContain('access_denied');
    } finally {
      await context.close();
    }
  }, 60_000);
});
