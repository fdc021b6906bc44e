import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection } from '../../providers/se-bankid/test/support.js';
import { qrPayload } from '../../providers/se-bankid/qr.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { expectAccessible, launchChromium, newPhone, screenshot } from '../support/chromium.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * The Swedish BankID page of a signature and of a payment, as a person sees it in each language:
 * the title says what they are about to do, the text is shown as sent (markup never runs), and
 * the page passes axe-core before and while the QR code shows. One signature is carried through.
 */
const bank = {
  client_id: 'bank',
  client_secret: 'a-bank-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://bank.example/callback'],
  display_name: 'Example Bank',
  authorization_details_types: ['sign', 'payment'],
};

const TEXT = 'I accept the loan terms.\nAmount: 100 000 SEK <b>not bold</b><script>alert(1)</script>';
const titles: Record<string, { sign: string; payment: string }> = {
  en: { sign: 'Sign with Swedish BankID', payment: 'Approve a payment with Swedish BankID' },
  sv: { sign: 'Signera med svenskt BankID', payment: 'Godkänn en betalning med svenskt BankID' },
  nb: { sign: 'Signer med svensk BankID', payment: 'Godkjenn en betaling med svensk BankID' },
  fi: { sign: 'Allekirjoita ruotsalaisella BankID:llä', payment: 'Hyväksy maksu ruotsalaisella BankID:llä' },
  da: { sign: 'Underskriv med svensk BankID', payment: 'Godkend en betaling med svensk BankID' },
};

/**
 * Runs in the page: the element with the keyboard's focus (its class) and its focus ring. A
 * string, since the tests are not compiled for the DOM.
 */
const FOCUSED_RING = `(() => {
  const style = getComputedStyle(document.activeElement);
  return { focused: document.activeElement.className, outline: [style.outlineStyle, style.outlineWidth, style.outlineOffset].join(' ') };
})()`;

let browser: Browser;
let bankId: BankIdSimulator;
let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  browser = await launchChromium();
  const pki = await createTestPki();
  bankId = await startBankIdSimulator({ pki });
  tb = await startTestBroker({ clients: [bank], eids: { 'se-bankid': bankIdSection(bankId, pki) } }, 'bankid-sign-page');
  rp = await RelyingParty.discover(tb.issuer, bank);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await tb?.close();
  await bankId?.close();
});

async function onPhone(locale: string, use: (page: Page) => Promise<void>) {
  const context = await newPhone(browser, locale);
  try {
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

/** Pushes the request (PAR) and opens its URL in the browser, at the BankID page. */
async function openPushed(page: Page, lang: string, detail: object) {
  const url = await rp.pushedAuthorizationUrl({
    acr_values: 'urn:nordic-eid:se:bankid:other-device',
    ui_locales: lang,
    authorization_details: JSON.stringify([detail]),
  });
  await page.goto(url.href);
  await page.waitForSelector('#bankid');
}

describe('the BankID page of a signature and a payment', () => {
  it.each(Object.keys(titles))('in %s: the title, the text as sent, and no accessibility problem', async (lang) => {
    await onPhone(lang, async (page) => {
      await openPushed(page, lang, { type: 'sign', text: TEXT });
      expect(await page.getAttribute('html', 'lang')).toBe(lang);
      expect(await page.textContent('h1')).toBe(titles[lang]!.sign);
      expect(await page.title()).toContain(titles[lang]!.sign);
      // Shown as text, line break kept; the markup in it is characters, not elements.
      expect(await page.textContent('.signed-text')).toBe(TEXT);
      expect(await page.$$('.signed-text b, .signed-text script')).toHaveLength(0);
      await page.waitForSelector('#qr:visible');
      await expectAccessible(page, `BankID signature (${lang})`);

      await openPushed(page, lang, {
        type: 'payment',
        transaction: { type: 'card', recipient: { name: 'Webshop AB' }, money: { amount: '1499,00', currency: 'SEK' }, riskWarning: 'First purchase here' },
      });
      expect(await page.textContent('h1')).toBe(titles[lang]!.payment);
      expect(await page.textContent('.payment')).toContain('1499,00 SEK');
      expect(await page.textContent('.warning')).toContain('First purchase here');
      await page.waitForSelector('#qr:visible');
      await expectAccessible(page, `BankID payment (${lang})`);
      if (lang === 'sv') await screenshot(page, 'bankid-payment-sv');
    });
  }, 60_000);

  it('a signature carried through: the QR code scanned, signed in the app, and back at the client with a code', async () => {
    await onPhone('sv', async (page) => {
      await openPushed(page, 'sv', { type: 'sign', text: TEXT });
      await page.waitForSelector('#qr:visible');
      await screenshot(page, 'bankid-sign-sv');
      const order = bankId.orders().at(-1)!;
      expect(order.kind).toBe('sign');
      bankId.scanQr(qrPayload(order.qrStartToken, order.qrStartSecret, (Date.now() - Date.parse(order.createdAt)) / 1000));
      await page.waitForSelector('#qr', { state: 'hidden' });
      expect(await page.textContent('#status')).toContain('BankID');
      // The broker redirects the browser to the client's callback (a name that resolves nowhere here).
      const callback = page.waitForRequest(/^https:\/\/bank\.example\/callback/);
      bankId.approve(order.orderRef, 0);
      expect(new URL((await callback).url()).searchParams.get('code')).toBeTruthy();
    });
  }, 60_000);

  it("the text to sign, a region the keyboard scrolls, shows the same focus ring as the page's buttons and links", async () => {
    await onPhone('sv', async (page) => {
      await openPushed(page, 'sv', { type: 'sign', text: TEXT });
      await page.waitForSelector('#qr:visible');
      await page.focus('nav.languages a[lang="da"]');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(FOCUSED_RING)).toEqual({ focused: 'signed-text', outline: 'solid 3px 2px' });
    });
  }, 60_000);
});
