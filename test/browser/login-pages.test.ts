import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFinnishTrustNetworkSimulator } from '../../providers/fi-ftn/simulator/index.js';
import { startMitIdSimulator } from '../../providers/dk-mitid/simulator/index.js';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { qrPayload } from '../../providers/se-bankid/qr.js';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection } from '../../providers/se-bankid/test/support.js';
import { drawnQrCode, expectAccessible, launchChromium, newPhone, screenshot } from '../support/chromium.js';
import { startUpstreamTestBed, type UpstreamTestBed } from '../support/upstream.js';

/**
 * A person in a real chromium, on a phone-sized screen, logging in to the demo relying party
 * through the broker's own pages: the picker, the BankID page, the upstream eIDs' simulators.
 */
let browser: Browser;
let bankId: BankIdSimulator;
let bed: UpstreamTestBed;

/** The Swedish BankID simulator, and the broker with it and with the upstream eIDs' simulators. */
async function startBeds() {
  const pki = await createTestPki();
  const simulator = await startBankIdSimulator({ pki });
  const upstreams = await startUpstreamTestBed(
    'browser',
    [
      { id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { nnin: true } },
      { id: 'fi-ftn', start: startFinnishTrustNetworkSimulator, tokenEndpointAuthMethod: 'private_key_jwt' },
      { id: 'dk-mitid', start: startMitIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { cpr: true } },
    ],
    undefined,
    { demo: true, eids: { 'se-bankid': bankIdSection(simulator, pki) } },
  );
  return [simulator, upstreams] as const;
}

beforeAll(async () => {
  // The browser starts while the simulators and the broker do.
  [browser, [bankId, bed]] = await Promise.all([launchChromium(), startBeds()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await bankId?.close();
});

const eids = ['se-bankid', 'no-bankid', 'fi-ftn', 'dk-mitid'] as const;

/** A fresh phone-sized browser for `use`, closed afterwards whatever happens. */
async function onPhone(use: (page: Page) => Promise<void>, locale?: string) {
  const context = await newPhone(browser, locale);
  try {
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

/** The demo relying party starts a login; the picker offers every eID. */
async function toPicker(page: Page) {
  await page.goto(`${bed.tb.issuer}/demo/login`);
  await page.waitForSelector('form.eids');
}

/** The simulated BankID app picks up the order on screen by its current QR code. */
function scanTheQrCode() {
  const order = bankId.orders().at(-1)!;
  bankId.scanQr(qrPayload(order.qrStartToken, order.qrStartSecret, (Date.now() - Date.parse(order.createdAt)) / 1000));
  return order.orderRef;
}

/** On the BankID page, chooses another device and waits for the QR code. */
async function toQrCode(page: Page) {
  await page.click('button[data-device="other"]');
  await page.waitForSelector('#qr:visible');
}

/** From the demo: the picker, BankID's QR code, Cancel; back on the picker with its notice. */
async function cancelAtBankId(page: Page) {
  await toPicker(page);
  await page.click('button[value="se-bankid"]');
  await toQrCode(page);
  await page.click('#cancel');
  await page.waitForSelector('.notice');
}

/** Plays the person through the chosen eID until the demo shows what it received. */
async function logInWith(page: Page, eid: (typeof eids)[number], checkPages?: (name: string) => Promise<void>) {
  await page.click(`button[value="${eid}"]`);
  if (eid === 'se-bankid') {
    await page.waitForSelector('button[data-device="other"]:visible');
    await checkPages?.('bankid-device');
    await toQrCode(page);
    await checkPages?.('bankid-qr');
    const orderRef = scanTheQrCode();
    await page.waitForSelector('#qr', { state: 'hidden' });
    await checkPages?.('bankid-signing');
    bankId.approve(orderRef, 0);
  } else {
    await page.waitForSelector('form[action$="/login"] button');
    await page.click('form[action$="/login"] button');
  }
  await page.waitForURL(/\/demo\/callback/);
  return page.textContent('body');
}

describe('a person on a phone-sized chromium', () => {
  it.each([
    ['sv-SE', 'sv', 'Välj hur du vill logga in', 'Du loggar in på Demotjänst.'],
    ['en-GB', 'en', 'Choose how to log in', 'You are logging in to Demo service.'],
    ['nb-NO', 'nb', 'Velg hvordan du vil logge inn', 'Du logger inn på Demotjeneste.'],
    ['fi-FI', 'fi', 'Valitse tunnistustapa', 'Olet kirjautumassa palveluun Esittelypalvelu.'],
    ['da-DK', 'da', 'Vælg, hvordan du vil logge ind', 'Du logger ind på Demotjeneste.'],
  ])('logs in with every eID through the built-in pages in %s, with no axe-core violations', async (browserLocale, lang, heading, lead) => {
    await onPhone(async (page) => {
      for (const eid of eids) {
        await toPicker(page);
        expect(await page.getAttribute('html', 'lang')).toBe(lang);
        expect(await page.textContent('h1')).toBe(heading);
        // The demo's name too is in the page's language.
        expect(await page.textContent('p.lead')).toBe(lead);
        await expectAccessible(page, `picker (${lang})`);
        const body = await logInWith(page, eid, (name) => expectAccessible(page, `${name} (${lang})`));
        expect(body, `${eid} in ${lang}`).toContain('personal_number');
        expect(body).toContain(eid);
      }
    }, browserLocale);
  }, 180_000);

  it('waits on the event stream: the QR code it draws changes every second and decodes to BankID\'s payload; scan, approve, back at the client', async () => {
    await onPhone(async (page) => {
      const calls: string[] = [];
      page.on('request', (request) => calls.push(new URL(request.url()).pathname));
      await toPicker(page);
      await page.click('button[value="se-bankid"]');
      await toQrCode(page);
      const order = bankId.orders().at(-1)!;
      const payloads = new Set<string>();
      for (let i = 0; i < 40 && payloads.size < 3; i += 1) {
        payloads.add(await drawnQrCode(page));
        await page.waitForTimeout(200);
      }
      expect(payloads.size).toBeGreaterThanOrEqual(3);
      for (const payload of payloads) {
        const seconds = Number(payload.split('.')[2]);
        expect(payload).toBe(qrPayload(order.qrStartToken, order.qrStartSecret, seconds));
      }
      // The simulated app checks the code's HMAC and age, as BankID's app does.
      bankId.scanQr(await drawnQrCode(page));
      await page.waitForSelector('#qr', { state: 'hidden' });
      expect(await page.textContent('#status')).toContain('security code');
      bankId.approve(order.orderRef, 0);
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('body')).toContain('personal_number');
      expect(calls.filter((path) => path.endsWith('/api/events')).length).toBeGreaterThanOrEqual(1);
      // One poll on load asks where the login stands; the waiting itself is all on the stream.
      expect(calls.filter((path) => path.endsWith('/api/poll')).length).toBeLessThanOrEqual(1);
    });
  }, 60_000);

  it("two tabs of one login: a BankID page reloaded after the login went on with Norwegian BankID in the other tab leaves for the login's page, not waiting on the other eID under BankID's heading", async () => {
    await onPhone(async (bankIdTab) => {
      const otherTab = await bankIdTab.context().newPage();
      await toPicker(bankIdTab);
      await otherTab.goto(bankIdTab.url());
      await bankIdTab.click('button[value="se-bankid"]');
      await toQrCode(bankIdTab);
      await otherTab.click('button[value="no-bankid"]');
      await otherTab.waitForSelector('form[action$="/login"] button');
      await bankIdTab.reload();
      await bankIdTab.waitForSelector('form.eids', { timeout: 10_000 });
      expect(await bankIdTab.textContent('h1')).toBe('Choose how to log in');
      await otherTab.click('form[action$="/login"] button');
      await otherTab.waitForURL(/\/demo\/callback/);
      expect(await otherTab.textContent('body')).toContain('no-bankid');
    });
  }, 60_000);

  it("the address of a page drawn for the picker's form, entered again in the address bar, shows the login as it stands: the picker, in Swedish", async () => {
    await onPhone(async (page) => {
      await toPicker(page);
      await page.evaluate("document.querySelector('button[value=\"fi-ftn\"]').value = 'xx-nothing'");
      await page.click('button[value="xx-nothing"]');
      await page.waitForSelector('.support');
      expect(new URL(page.url()).pathname).toMatch(/\/select$/);
      // Enter in the address bar: the same address, by GET.
      await page.goto(page.url());
      await page.waitForSelector('form.eids');
      expect(await page.textContent('h1')).toBe('Välj hur du vill logga in');
    }, 'sv-SE');
  }, 60_000);

  it("the logout's confirmation address opened by GET (entered in the address bar): a page that says the address cannot be opened so, and to start again at the service, not a login request to blame on it", async () => {
    await onPhone(async (page) => {
      const response = await page.goto(`${bed.tb.issuer}/session/end/confirm`);
      expect(response!.status()).toBe(405);
      expect(await page.textContent('p.lead')).toBe('Den här sidan kan inte öppnas från sin adress. Gå tillbaka till tjänsten du kom från och börja om.');
      await expectAccessible(page, 'a method the address does not take (sv)');
    }, 'sv-SE');
  }, 60_000);

  it('"Yes, log out" in a second tab after logging out in the first: the page says, in Swedish, that the person is logged out, as they asked', async () => {
    await onPhone(async (page) => {
      await toPicker(page);
      await logInWith(page, 'no-bankid');
      const other = await page.context().newPage();
      for (const tab of [page, other]) await tab.goto(`${bed.tb.issuer}/session/end`);
      await other.click('button[name="logout"]');
      await other.waitForURL(/\/session\/end\/success/);
      await page.click('button[name="logout"]');
      await page.waitForSelector('h1');
      expect(await page.textContent('h1')).toBe('Du är utloggad');
      expect(await page.textContent('p.lead')).toBe('Du har loggat ut. Du kan stänga fönstret.');
      await expectAccessible(page, 'logged out in another tab (sv)');
    }, 'sv-SE');
  }, 60_000);

  it('at 400 % zoom (a 1280 × 860 screen: 320 × 215 CSS pixels) the whole QR code fits on the screen at once, square, to be scanned', async () => {
    const context = await browser.newContext({ viewport: { width: 320, height: 215 }, deviceScaleFactor: 4, locale: 'sv-SE' });
    try {
      const page = await context.newPage();
      await toPicker(page);
      await page.click('button[value="se-bankid"]');
      await toQrCode(page);
      const qr = page.locator('#qr');
      await qr.scrollIntoViewIfNeeded();
      const box = (await qr.boundingBox())!;
      expect({ fits: box.height <= 215 && box.width <= 320, square: Math.abs(box.width - box.height) < 1 }).toEqual({ fits: true, square: true });
      expect(await drawnQrCode(page)).toMatch(/^bankid\./);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('the picker names the eID the person left without brackets inside brackets, in Finnish too', async () => {
    await onPhone(async (page) => {
      await cancelAtBankId(page);
      expect(await page.textContent('.notice')).toBe('BankID (Ruotsi): peruit tunnistautumisen. Yritä uudelleen tai valitse toinen tapa alta.');
    }, 'fi-FI');
  }, 60_000);

  it('switches language on the page', async () => {
    await onPhone(async (page) => {
      await toPicker(page);
      await page.click('nav.languages a[lang="fi"]');
      await page.waitForSelector('html[lang="fi"]');
      expect(await page.textContent('h1')).toBe('Valitse tunnistustapa');
      await page.click('nav.languages a[lang="sv"]');
      await page.waitForSelector('html[lang="sv"]');
      expect(await page.textContent('h1')).toBe('Välj hur du vill logga in');
    });
  }, 60_000);

  it('cancels on the BankID page, back to the picker, then cancels there and lands at the client with access_denied', async () => {
    await onPhone(async (page) => {
      await cancelAtBankId(page);
      await page.click('form[action$="/cancel"] button');
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('body')).toContain('access_denied');
    });
  }, 60_000);

  it('sees an upstream failure reach the client as server_error when the client asked for that eID alone', async () => {
    bed.simulators['no-bankid']!.faults.tokenDelayMs = 3_000;
    try {
      await onPhone(async (page) => {
        await page.goto(`${bed.tb.issuer}/demo/login?acr=${encodeURIComponent('urn:nordic-eid:no:bankid')}`);
        await page.click('form[action$="/login"] button');
        await page.waitForURL(/\/demo\/callback/);
        expect(await page.textContent('body')).toContain('server_error');
      });
    } finally {
      bed.simulators['no-bankid']!.faults.tokenDelayMs = 0;
    }
  }, 60_000);
});

/**
 * Runs in the page: the colours the person sees behind the text, page and card, as [r, g, b]; and
 * whether the QR code's corner (its quiet zone) is white, when there is one on the page.
 */
const THEME_COLOURS = `(() => {
  const rgb = (element) => element && getComputedStyle(element).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number);
  const qr = document.getElementById('qr');
  const corner = qr && !qr.hidden ? [...qr.getContext('2d').getImageData(0, 0, 1, 1).data].slice(0, 3) : null;
  return { page: rgb(document.body.parentElement), card: rgb(document.querySelector('.card')), qrCorner: corner };
})()`;

/** The logout question and, after Log out, the logged-out page, `check`ing each. */
async function throughLogout(page: Page, check: (name: string) => Promise<void>) {
  await page.goto(`${bed.tb.issuer}/session/end`);
  await page.waitForSelector('button[name="logout"]');
  await check('logout');
  await page.click('button[name="logout"]');
  await page.waitForURL(/\/session\/end\/success/);
  await check('logged-out');
}

describe('every page, at phone and desktop widths', () => {
  it('in a dark theme (the system set to dark): every page dark, its text at AA contrast (axe-core), the QR code still black on white', async () => {
    await onPhone(async (page) => {
      const dark = async (name: string, qrCode = false) => {
        await expectAccessible(page, `${name}, dark`);
        const colours = (await page.evaluate(THEME_COLOURS)) as { page: number[]; card: number[] | null; qrCorner: number[] | null };
        const isDark = (rgb: number[] | null) => rgb === null || Math.max(...rgb) < 64;
        expect({ name, page: isDark(colours.page), card: isDark(colours.card) }).toEqual({ name, page: true, card: true });
        if (qrCode) {
          expect(colours.qrCorner, 'the quiet zone').toEqual([255, 255, 255]);
          expect(await drawnQrCode(page)).toMatch(/^bankid\./);
        }
      };
      await page.emulateMedia({ colorScheme: 'dark' });
      await toPicker(page);
      await dark('picker');
      await logInWith(page, 'se-bankid', (name) => dark(name, name === 'bankid-qr'));
      await page.goto(`${bed.tb.issuer}/interaction/no-such-login`);
      await dark('error');
      await throughLogout(page, dark);
    });
  }, 90_000);

  it('has no axe-core violations and is captured for a person to look at', async () => {
    await onPhone(async (page) => {
      const capture = async (name: string) => {
        await expectAccessible(page, name);
        await screenshot(page, name);
      };
      await toPicker(page);
      await capture('picker');
      // A picker whose form was changed (or an eID no longer offered): the choice is named, not the service, and the picker comes again.
      await page.evaluate("document.querySelector('button[value=\"fi-ftn\"]').value = 'xx-nothing'");
      await page.click('button[value="xx-nothing"]');
      await page.waitForSelector('.support');
      expect(await page.textContent('p.lead')).toBe('The way to log in you chose is not offered for this login. Choose again among the ways it offers.');
      await capture('choice-not-offered');
      await page.click('a.button');
      await page.waitForSelector('form.eids');
      await logInWith(page, 'se-bankid', capture);
      await screenshot(page, 'demo-result');

      await page.goto(`${bed.tb.issuer}/interaction/no-such-login`);
      await capture('error');
      // An address with no page: what happened, and what to do next.
      await page.goto(`${bed.tb.issuer}/no-such-page`);
      expect(await page.textContent('p.lead')).toBe('There is no page at this address. Check the address, or go back to the service you came from and start again.');
      await capture('not-found');

      await throughLogout(page, capture);
    });
  }, 90_000);
});
