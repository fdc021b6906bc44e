import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qrPayload } from '../../providers/se-bankid/qr.js';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection } from '../../providers/se-bankid/test/support.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { launchChromium, viewports } from '../support/chromium.js';
import { eventually } from '../support/ops.js';
import { startRedisServer, type RedisServer } from '../support/redis.js';

/**
 * Redis shut down without saving (SHUTDOWN NOSAVE) and started again on its port while a person
 * waits on the BankID page, its event stream open: the login's state is gone. The page says so
 * in words, with the support reference, before the person scans a code nothing would come of;
 * the next login works.
 */
let browser: Browser;
let redis: RedisServer;
let bankId: BankIdSimulator;
let tb: TestBroker;

beforeAll(async () => {
  browser = await launchChromium();
  redis = await startRedisServer();
  const pki = await createTestPki();
  bankId = await startBankIdSimulator({ pki });
  tb = await startTestBroker({ demo: true, redis: { url: redis.url, key_prefix: 'restart-page:' }, eids: { 'se-bankid': bankIdSection(bankId, pki) } }, 'restart-page', { prefix: 'restart-page:' });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await tb?.close();
  await bankId?.close();
  await redis?.stop();
});

/** SHUTDOWN NOSAVE, as an operator restarting Redis does: its data is gone. Then the same server again. */
async function restartRedisEmpty(): Promise<void> {
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  await admin.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
  admin.disconnect();
  await redis.stop();
  await redis.start();
  await eventually(() => tb.broker.store.available);
}

/** The simulated phone scans the code the latest order shows now, and the person approves. */
function scanAndApprove(): void {
  const order = bankId.orders().at(-1)!;
  bankId.scanQr(qrPayload(order.qrStartToken, order.qrStartSecret, (Date.now() - Date.parse(order.createdAt)) / 1000));
  bankId.approve(order.orderRef, 0);
}

describe('Redis restarted empty while the person waits on the BankID page', () => {
  it('the page says in words that the login is over, with its support reference, before any scan; a new login completes', async () => {
    const context = await browser.newContext({ viewport: viewports.desktop, locale: 'en-GB' });
    try {
      const page = await context.newPage();
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');

      await restartRedisEmpty();
      await page.waitForSelector('text=This login is over', { timeout: 60_000 });
      const text = await page.textContent('body');
      expect(text).toContain('Go back to the service and start again');
      expect(text).toMatch(/Support reference\s*[0-9a-f]{16}/);

      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      scanAndApprove();
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('body')).toContain('personal_number');
    } finally {
      await context.close();
    }
  }, 180_000);
});
