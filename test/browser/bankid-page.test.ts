import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection } from '../../providers/se-bankid/test/support.js';
import { qrPayload } from '../../providers/se-bankid/qr.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { expectAccessible, launchChromium, newPhone, PHONE_USER_AGENT, screenshot, viewports } from '../support/chromium.js';
import { startBalancer, type Balancer } from '../support/balancer.js';
import { capturingLog } from '../support/ops.js';
import { findFreePort } from '../support/redis.js';

/**
 * The Swedish BankID page's paths a person can take besides the straight one: switching
 * device, trying again after a QR code nobody scanned, changing language mid-login, an event
 * stream refused or silent, and a browser without JavaScript. The login comes from the demo
 * client, which offers only BankID.
 */
interface Bed {
  bankId: BankIdSimulator;
  tb: TestBroker;
  /** The broker's log lines, every access line among them (polls' too, at debug), when a test reads them. */
  log?: CapturedLog;
}

type CapturedLog = ReturnType<typeof capturingLog>;

let browser: Browser;
/** A BankID whose QR codes wait 30 s for a scan, as the real one does, drawn 320 px wide. */
let usual: Bed;
/** One whose QR codes fail after 2 s, and a login that stops renewing them after 3 s. */
let hasty: Bed;
/** One that lets a single event stream be open per IP address. */
let narrow: Bed;
/** One behind a proxy that buffers event streams when told to. */
let proxied: Bed;
let proxy: Balancer;
const beds: Bed[] = [];

async function startBed(
  name: string,
  pickupTimeoutSeconds: number,
  settings: Record<string, unknown> = {},
  broker: { config?: Partial<ConfigInput>; log?: CapturedLog } = {},
): Promise<Bed> {
  const pki = await createTestPki();
  const bankId = await startBankIdSimulator({ pki, pickupTimeoutSeconds });
  const tb = await startTestBroker({ demo: true, eids: { 'se-bankid': bankIdSection(bankId, pki, settings) }, ...broker.config }, name, { log: broker.log?.log });
  const bed = { bankId, tb, log: broker.log };
  beds.push(bed);
  return bed;
}

/** The proxy, and the bed behind it: the bed's issuer is the proxy's address. */
async function startProxiedBed(): Promise<[Balancer, Bed]> {
  const port = await findFreePort();
  const balancer = await startBalancer([`http://127.0.0.1:${port}`]);
  return [balancer, await startBed('bankid-page-proxied', 30, {}, { config: { port, issuer: balancer.url }, log: capturingLog('debug') })];
}

beforeAll(async () => {
  // Each bed makes its keys and starts its simulator and broker: all at once, with the browser.
  [browser, usual, hasty, narrow, [proxy, proxied]] = await Promise.all([
    launchChromium(),
    startBed('bankid-page', 30, { qr_size: 320 }),
    startBed('bankid-page-hasty', 2, { allowed_polling_for_minutes: 0.05 }),
    startBed('bankid-page-narrow', 30, {}, { config: { event_streams: { per_ip: 1 } }, log: capturingLog('debug') }),
    startProxiedBed(),
  ]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  for (const { tb, bankId } of beds) {
    await tb.close();
    await bankId.close();
  }
});

async function onDevice(kind: 'phone' | 'desktop', use: (page: Page) => Promise<void>, options: Parameters<Browser['newContext']>[0] = {}) {
  const context: BrowserContext =
    kind === 'phone' ? await newPhone(browser, 'en-GB', { userAgent: PHONE_USER_AGENT, ...options }) : await browser.newContext({ viewport: viewports[kind], ...options });
  // BankID's app link opens the app and leaves the page where it is: a 204 does just that.
  await context.route('https://app.bankid.com/**', (route) => route.fulfill({ status: 204 }));
  try {
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

async function toBankIdPage(page: Page, { tb }: Bed = usual) {
  await page.goto(`${tb.issuer}/demo/login`);
  await page.waitForSelector('#bankid');
}

/** The simulated phone scans whatever code the latest order shows now. */
function scanLatest({ bankId }: Bed = usual): string {
  const order = bankId.orders().at(-1)!;
  bankId.scanQr(qrPayload(order.qrStartToken, order.qrStartSecret, (Date.now() - Date.parse(order.createdAt)) / 1000));
  return order.orderRef;
}

/** The login's uid, from the address of its page. */
function uidOf(page: Page): string {
  return /\/interaction\/([^/]+)\//.exec(page.url())![1]!;
}

/**
 * The requests of one login that the bed's broker has answered, from its access lines, oldest
 * first, as "METHOD path status" with the uid as {uid}: a page's polls in a row count once.
 */
function requestsOf({ log }: Bed, uid: string): string[] {
  const seen: string[] = [];
  for (const line of log!.lines()) {
    const path = String(line.path);
    if (line.msg !== 'request' || !path.includes(uid)) continue;
    const request = `${String(line.method)} ${path.replace(uid, '{uid}')} ${String(line.status)}`;
    if (seen.at(-1) !== request) seen.push(request);
  }
  return seen;
}

const STREAM_OPENED = 'GET /interaction/{uid}/api/events 200';
const STREAM_REFUSED = 'GET /interaction/{uid}/api/events 429';
const POLLED = 'POST /interaction/{uid}/api/poll 200';
const ENTERED = 'GET /interaction/{uid}/se-bankid/ 200';
const STARTED = 'POST /interaction/{uid}/api/start 200';
const RESUMED = 'GET /auth/{uid} 303';

/** On the BankID page: the QR code, scanned, then the person cancels in the app (an ending that may be tried again). */
async function cancelInTheApp(page: Page) {
  await toBankIdPage(page);
  await page.click('button[data-device="other"]');
  await page.waitForSelector('#qr:visible');
  const orderRef = scanLatest();
  await page.waitForSelector('#qr', { state: 'hidden' });
  usual.bankId.userCancel(orderRef);
}

async function approveAndLand(page: Page, orderRef: string, { bankId }: Bed = usual) {
  await page.waitForSelector('#qr', { state: 'hidden' });
  bankId.approve(orderRef, 0);
  await page.waitForURL(/\/demo\/callback/);
  expect(await page.textContent('body')).toContain('personal_number');
}

describe('the Swedish BankID page', () => {
  it('on a phone offers BankID on the phone first and the QR code second; on a computer the other way round', async () => {
    await onDevice('phone', async (page) => {
      await toBankIdPage(page);
      const buttons = await page.$$eval('#device-choice button', (all) => all.map((button) => (button as { dataset: { device: string } }).dataset.device));
      expect(buttons).toEqual(['this', 'other']);
      await expectAccessible(page, 'BankID device choice on a phone');
    });
    await onDevice('desktop', async (page) => {
      await toBankIdPage(page);
      const buttons = await page.$$eval('#device-choice button', (all) => all.map((button) => (button as { dataset: { device: string } }).dataset.device));
      expect(buttons).toEqual(['other', 'this']);
      expect(await page.textContent('#device-question')).toContain('this computer');
    });
  }, 60_000);

  it("remembers the device chosen in this browser session, offering it first at the next login; the QR code has the eID's configured size", async () => {
    const offered = (page: Page) => page.$$eval('#device-choice button', (all) => all.map((button) => (button as { dataset: { device: string } }).dataset.device));
    await onDevice('desktop', async (page) => {
      await toBankIdPage(page);
      expect(await offered(page)).toEqual(['other', 'this']);
      await page.click('button[data-device="this"]');
      await page.waitForSelector('#open:visible');

      // The next logins in another tab of the same browser session: the tab above tried to open
      // BankID's app (bankid:///), and headless Chromium then takes no more clicks in that tab.
      const next = await page.context().newPage();
      await toBankIdPage(next);
      expect(await offered(next)).toEqual(['this', 'other']);
      await next.click('button[data-device="other"]');
      await next.waitForSelector('#qr:visible');
      expect(await next.$eval('#qr', (qr) => (qr as unknown as { style: { width: string } }).style.width)).toBe('320px');

      await toBankIdPage(next);
      expect(await offered(next)).toEqual(['other', 'this']);
    });
  }, 60_000);

  it.each(['phone', 'desktop'] as const)('on a %s switches device both ways without losing the login, each switch cancelling the order before', async (kind) => {
    await onDevice(kind, async (page) => {
      await toBankIdPage(page);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      const first = usual.bankId.orders().at(-1)!.orderRef;
      await page.waitForSelector('#switch:visible');
      await expectAccessible(page, `BankID QR code with the switch (${kind})`);
      await page.click('#switch');
      await page.waitForSelector('#open:visible');
      const second = usual.bankId.orders().at(-1)!.orderRef;
      expect(second).not.toBe(first);
      expect(usual.bankId.callCount('cancel', first)).toBe(1);
      await page.click('#switch');
      await page.waitForSelector('#qr:visible');
      const third = scanLatest();
      expect(third).not.toBe(second);
      expect(usual.bankId.callCount('cancel', second)).toBe(1);
      await approveAndLand(page, third);
    });
  }, 60_000);

  it('after a QR code nobody scanned in time, Try again starts a new order in the same login, which completes', async () => {
    await onDevice('desktop', async (page) => {
      await toBankIdPage(page, hasty);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      await page.waitForSelector('#retry:visible', { timeout: 20_000 });
      expect(await page.textContent('#status')).toContain('not scanned in time');
      expect(await page.isVisible('#qr')).toBe(false);
      expect(await page.textContent('#reference')).toMatch(/[0-9a-f]{16}/);
      expect(await page.textContent('#cancel')).toBe('Back to the service');
      await expectAccessible(page, 'BankID try again');
      await screenshot(page, 'bankid-try-again');
      const before = hasty.bankId.callCount('auth');
      await page.click('#retry');
      await page.waitForSelector('#qr:visible');
      expect(hasty.bankId.callCount('auth')).toBe(before + 1);
      await approveAndLand(page, scanLatest(hasty), hasty);
    });
  }, 60_000);

  it.each(['sv', 'en', 'nb', 'fi', 'da'])("names the support reference of an ending as the broker's error pages name it (%s): one name for one thing", async (locale) => {
    await onDevice(
      'desktop',
      async (page) => {
        await page.goto(`${usual.tb.issuer}/no-such-page`);
        const onErrorPages = (await page.locator('.support dt').nth(1).textContent())!;
        await cancelInTheApp(page);
        await page.waitForSelector('#reference:visible');
        expect(await page.textContent('#reference')).toMatch(new RegExp(`^${onErrorPages}: [0-9a-f]{16}$`));
      },
      { locale },
    );
  }, 60_000);

  it('going back from an ending that could be tried again lands at the client with that ending', async () => {
    await onDevice('desktop', async (page) => {
      await cancelInTheApp(page);
      await page.waitForSelector('#retry:visible');
      await page.click('#cancel');
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('body')).toContain('access_denied');
    });
  }, 60_000);

  it('keeps the order under way when the person changes language', async () => {
    await onDevice('desktop', async (page) => {
      await toBankIdPage(page);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      const orders = usual.bankId.callCount('auth');
      const orderRef = usual.bankId.orders().at(-1)!.orderRef;
      await page.click('nav.languages a[lang="sv"]');
      await page.waitForSelector('html[lang="sv"]');
      await page.waitForSelector('#qr:visible');
      expect(await page.textContent('#status')).toContain('QR-koden');
      expect(usual.bankId.callCount('auth')).toBe(orders);
      expect(scanLatest()).toBe(orderRef);
      await approveAndLand(page, orderRef);
    });
  }, 60_000);

  it('waits as a busy answer (503 with Retry-After) says, keeping what it shows, when starting the order and when polling; the login completes', async () => {
    await onDevice('desktop', async (page) => {
      // What a broker shedding load answers (src/resilience/load-shedding.ts), for the first start and the second poll.
      const busy = { status: 503, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: JSON.stringify({ error: 'temporarily_unavailable', error_description: 'The broker is busy right now. Try again in a moment.' }) };
      let starts = 0;
      let polls = 0;
      await page.route('**/api/start', (route) => (++starts === 1 ? route.fulfill(busy) : route.continue()));
      // No event stream here, so that the page polls.
      await page.route('**/api/events*', (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{}' }));
      await page.route('**/api/poll*', (route) => (++polls === 2 ? route.fulfill(busy) : route.continue()));
      await toBankIdPage(page);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      expect(starts).toBe(2);
      await expect.poll(() => polls, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
      expect(await page.isVisible('#qr')).toBe(true);
      expect(await page.textContent('#status')).not.toContain('busy');
      await approveAndLand(page, scanLatest());
    });
  }, 60_000);

  it('when its event stream is refused, polls and tries the stream again until it opens, then waits on it alone and completes', async () => {
    // Another page from the same address holds the one stream `narrow` lets it have.
    const elsewhere = await browser.newContext({ viewport: viewports.desktop });
    const holder = await elsewhere.newPage();
    await toBankIdPage(holder, narrow);
    await holder.click('button[data-device="other"]');
    await expect.poll(() => requestsOf(narrow, uidOf(holder))).toContain(STREAM_OPENED);
    await onDevice('desktop', async (page) => {
      await toBankIdPage(page, narrow);
      const uid = uidOf(page);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      // Refused again after polling a while: the page keeps coming back to its stream.
      await expect.poll(() => requestsOf(narrow, uid).filter((request) => request === STREAM_REFUSED).length, { timeout: 30_000 }).toBe(2);
      await elsewhere.close();
      await expect.poll(() => requestsOf(narrow, uid), { timeout: 30_000 }).toContain(STREAM_OPENED);
      await approveAndLand(page, scanLatest(narrow), narrow);
      expect(requestsOf(narrow, uid)).toEqual([
        ENTERED,
        POLLED,
        STARTED,
        STREAM_REFUSED,
        POLLED,
        STREAM_REFUSED,
        POLLED,
        // No poll once the stream is open: the page waits on it alone, and it says where to go.
        STREAM_OPENED,
        RESUMED,
      ]);
    });
  }, 90_000);

  it('when its event stream stays silent (a proxy buffers it), polls and tries the stream again, waiting on it alone once it is heard', async () => {
    proxy.buffersStreams = true;
    await onDevice('desktop', async (page) => {
      await toBankIdPage(page, proxied);
      const uid = uidOf(page);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      // The page gave up on the stream it heard nothing from, and polls.
      await expect.poll(() => requestsOf(proxied, uid).at(-1), { timeout: 15_000 }).toBe(POLLED);
      proxy.buffersStreams = false;
      await expect.poll(() => requestsOf(proxied, uid).filter((request) => request === STREAM_OPENED).length, { timeout: 30_000 }).toBe(2);
      await approveAndLand(page, scanLatest(proxied), proxied);
      const requests = requestsOf(proxied, uid);
      expect(requests.slice(0, 5)).toEqual([ENTERED, POLLED, STARTED, STREAM_OPENED, POLLED]);
      // No poll once the stream is heard: the page waits on it alone, and it says where to go.
      expect(requests.slice(-3)).toEqual([POLLED, STREAM_OPENED, RESUMED]);
    });
  }, 90_000);

  it('when the login ends in another tab, leaves for the expired page with the way back to the client instead of waiting on', async () => {
    await onDevice('desktop', async (page) => {
      await toBankIdPage(page, narrow);
      const uid = uidOf(page);
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      await expect.poll(() => requestsOf(narrow, uid)).toContain(STREAM_OPENED);
      const other = await page.context().newPage();
      await other.goto(page.url());
      await other.waitForSelector('#qr:visible');
      await other.click('#cancel');
      await other.waitForURL(/\/demo\/callback/);
      await page.waitForSelector('.support');
      expect(new URL(page.url()).pathname).toBe(`/interaction/${uid}/`);
      expect(await page.textContent('main')).toContain('This login has expired');
      expect(await page.textContent('main a.button')).toBe('Back to Demo service');
    });
  }, 60_000);

  it('without JavaScript says what to do, and cancels with a plain form post', async () => {
    await onDevice(
      'desktop',
      async (page) => {
        await toBankIdPage(page);
        expect(await page.textContent('noscript')).toContain('needs JavaScript');
        await screenshot(page, 'bankid-no-javascript');
        await page.click('#cancel');
        await page.waitForURL(/\/demo\/callback/);
        expect(await page.textContent('body')).toContain('access_denied');
      },
      { javaScriptEnabled: false },
    );
  }, 60_000);

  it.each(['sv', 'en', 'nb', 'fi', 'da'])('without JavaScript, offers no other way to log in when the login has none: no link that leads back to this page (%s)', async (locale) => {
    await onDevice(
      'desktop',
      async (page) => {
        await toBankIdPage(page);
        // The demo offers only BankID: the picker's address sends the browser straight back here.
        expect(await page.locator('noscript a').count()).toBe(0);
        const words = { sv: 'annat sätt', en: 'another way', nb: 'annen måte', fi: 'toinen', da: 'anden måde' }[locale]!;
        expect(await page.textContent('noscript')).not.toContain(words);
        expect(await page.textContent('#cancel')).toBeTruthy();
      },
      { javaScriptEnabled: false, locale },
    );
  }, 60_000);
});
