import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFinnishTrustNetworkSimulator } from '../../providers/fi-ftn/simulator/index.js';
import { startMitIdSimulator } from '../../providers/dk-mitid/simulator/index.js';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection } from '../../providers/se-bankid/test/support.js';
import { expectAccessible, launchChromium, newPhone, screenshot, viewports } from '../support/chromium.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { RelyingParty } from '../support/relying-party.js';
import { startUpstreamTestBed, type UpstreamTestBed } from '../support/upstream.js';

/**
 * The ways on when something goes wrong, walked in a real chromium: an eID that fails or is
 * cancelled takes the person back to the picker, which says so and lets them choose another;
 * a client that wants no second chance, or asked for one eID, gets the error at once; the
 * logout page keeps the relying party's request through a change of language; and Back after a
 * finished login leads to a page with a way back to the client, in any language.
 */
let browser: Browser;
let bankId: BankIdSimulator;
let bed: UpstreamTestBed;
let relyingParty: Receiver;
/** A client registered with return_to_picker: false, whose redirect_uri is a real server. */
let strict: RelyingParty;

const upstreamEids = ['no-bankid', 'fi-ftn', 'dk-mitid'] as const;
/** Each upstream eID as the picker names it, in English. */
const shownAs: Record<(typeof upstreamEids)[number], string> = {
  'no-bankid': 'BankID (Norway)',
  'fi-ftn': 'Finnish bank ID or mobile certificate',
  'dk-mitid': 'MitID',
};

beforeAll(async () => {
  browser = await launchChromium();
  relyingParty = await startReceiver();
  const pki = await createTestPki();
  bankId = await startBankIdSimulator({ pki });
  const strictClient = {
    client_id: 'strict',
    client_secret: 'a-secret-for-the-client-that-wants-no-second-chance',
    redirect_uris: [`${relyingParty.origin}/callback`],
    display_name: 'No second chance',
    return_to_picker: false,
  };
  bed = await startUpstreamTestBed(
    'ways-back',
    [
      { id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic' },
      { id: 'fi-ftn', start: startFinnishTrustNetworkSimulator, tokenEndpointAuthMethod: 'private_key_jwt' },
      { id: 'dk-mitid', start: startMitIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { cpr: true } },
    ],
    undefined,
    { demo: true, clients: [strictClient], eids: { 'se-bankid': bankIdSection(bankId, pki) } },
  );
  strict = await RelyingParty.discover(bed.tb.issuer, strictClient);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await bankId?.close();
  await relyingParty?.close();
});

/** A fresh browser of `kind` for `use`, closed afterwards whatever happens. */
async function on(kind: 'phone' | 'desktop', use: (page: Page) => Promise<void>, locale = 'en-GB') {
  const context = kind === 'phone' ? await newPhone(browser, locale) : await browser.newContext({ viewport: viewports.desktop, locale });
  try {
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

async function toPicker(page: Page, login = `${bed.tb.issuer}/demo/login`) {
  await page.goto(login);
  await page.waitForSelector('form.eids');
}

/** On an upstream eID's simulated page: log in as its first test person, or cancel. */
async function atUpstream(page: Page, choice: 'login' | 'cancel') {
  await page.waitForSelector(`form[action$="/${choice}"] button`);
  await page.click(`form[action$="/${choice}"] button`);
}

/** Back on the picker, which says what happened: its notice, checked with axe and captured. */
async function backOnPicker(page: Page, name: string): Promise<string> {
  await page.waitForSelector('form.eids .eid');
  const notice = (await page.textContent('.notice'))!;
  await expectAccessible(page, name);
  await screenshot(page, name);
  return notice;
}

describe('an eID that fails or is cancelled takes the person back to the picker', () => {
  it('an eID that fails (its token endpoint too slow): back on the picker, which names it; another eID completes the login', async () => {
    bed.simulators['no-bankid']!.faults.tokenDelayMs = 3_000;
    try {
      await on('phone', async (page) => {
        await toPicker(page);
        await page.click('button[value="no-bankid"]');
        await atUpstream(page, 'login');
        const notice = await backOnPicker(page, 'picker-after-eid-failed');
        expect(notice).toContain('BankID (Norway) is not available right now.');
        expect(notice).not.toContain('no-bankid');
        // The notice has the focus, so a screen reader says it first.
        expect(await page.evaluate('document.activeElement?.className')).toBe('notice');
        // Read once, as the focus lands: not a live region as well, which a screen reader reads out again.
        expect(await page.getAttribute('.notice', 'role')).toBeNull();
        await page.click('button[value="fi-ftn"]');
        await atUpstream(page, 'login');
        await page.waitForURL(/\/demo\/callback/);
        expect(await page.textContent('body')).toContain('fi-ftn');
      });
    } finally {
      bed.simulators['no-bankid']!.faults.tokenDelayMs = 0;
    }
  }, 90_000);

  it.each(upstreamEids)('cancel at %s: back on the picker with a message naming it, in the person\'s language too', async (eid) => {
    await on('desktop', async (page) => {
      await toPicker(page);
      await page.click(`button[value="${eid}"]`);
      await atUpstream(page, 'cancel');
      expect(await backOnPicker(page, `picker-after-cancel-at-${eid}`)).toContain(`You cancelled the login with ${shownAs[eid]}.`);
      // A change of language keeps the notice: it belongs to the login, not to one page.
      await page.click('nav.languages a[lang="sv"]');
      await page.waitForSelector('html[lang="sv"]');
      expect(await page.textContent('.notice')).toContain('Du avbröt inloggningen med');
      await expectAccessible(page, `picker after cancel at ${eid} (sv)`);
      // Cancel on the picker itself ends the login at the client.
      await page.click('form[action$="/cancel"] button');
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('body')).toContain('access_denied');
    });
  }, 90_000);

  it("a MitID login below the level the service asks for (a password alone): the picker says that the login fell short of the service's requirements, not only that it did not succeed", async () => {
    // Each language's sentence; English first, the page's own.
    const shortOf: Array<[string, string]> = [
      ['en', 'The login with MitID did not meet what this service requires, such as its level of security.'],
      ['sv', 'Inloggningen med MitID uppfyllde inte tjänstens krav, till exempel på säkerhetsnivå.'],
      ['nb', 'Innloggingen med MitID oppfylte ikke kravene til denne tjenesten, for eksempel til sikkerhetsnivå.'],
      ['fi', 'MitID: tunnistautuminen ei täyttänyt tämän palvelun vaatimuksia, esimerkiksi vaadittua varmuustasoa.'],
      ['da', 'Login med MitID opfyldte ikke tjenestens krav, for eksempel til sikkerhedsniveau.'],
    ];
    await on('desktop', async (page) => {
      await toPicker(page);
      await page.click('button[value="dk-mitid"]');
      await page.waitForSelector('form[action$="/login"] button');
      await page.locator('form[action$="/login"] button', { hasText: 'password only (low)' }).click();
      await backOnPicker(page, 'picker-after-mitid-below-level');
      for (const [lang, sentence] of shortOf) {
        await page.click(`nav.languages a[lang="${lang}"]`);
        await page.waitForSelector(`html[lang="${lang}"] .notice`);
        expect(await page.textContent('.notice'), lang).toContain(sentence);
      }
    });
  }, 60_000);

  it("an eID named inside the picker's sentence takes the case the sentence needs: FTN's name is lower-case there in Swedish, Norwegian and Danish", async () => {
    // FTN's name on its button starts a line, so it has a capital; inside a sentence it is no proper name.
    // Swedish last: the page stays in it.
    const afterCancel = {
      en: 'You cancelled the login with Finnish bank ID or mobile certificate.',
      fi: 'Pankkitunnukset tai mobiilivarmenne: peruit tunnistautumisen.',
      nb: 'Du avbrøt innloggingen med finske bankkoder eller mobilsertifikat.',
      da: 'Du afbrød login med finske bankkoder eller mobilcertifikat.',
      sv: 'Du avbröt inloggningen med finska bankkoder eller mobilcertifikat.',
    };
    const unavailable = {
      en: 'Finnish bank ID or mobile certificate is not available right now.',
      fi: 'Pankkitunnukset tai mobiilivarmenne ei ole juuri nyt käytettävissä.',
      nb: 'Det går ikke å logge inn med finske bankkoder eller mobilsertifikat akkurat nå.',
      da: 'Det er ikke muligt at logge ind med finske bankkoder eller mobilcertifikat lige nu.',
      sv: 'Det går inte att logga in med finska bankkoder eller mobilcertifikat just nu.',
    };
    /** Back on the picker from FTN after `choice` there: its notice in each language of `expected`, the last one staying. */
    const expectNoticesAfter = (choice: 'login' | 'cancel', expected: Record<string, string>) =>
      on('desktop', async (page) => {
        await toPicker(page);
        await page.click('button[value="fi-ftn"]');
        await atUpstream(page, choice);
        await backOnPicker(page, `picker-after-ftn-${choice}`);
        for (const [lang, sentence] of Object.entries(expected)) {
          await page.click(`nav.languages a[lang="${lang}"]`);
          await page.waitForSelector(`html[lang="${lang}"] .notice`);
          expect(await page.textContent('.notice'), lang).toContain(sentence);
        }
        // The button keeps the name as it starts a line: its capital.
        expect(await page.textContent('button[value="fi-ftn"]')).toBe('Finska bankkoder eller mobilcertifikat');
      });
    await expectNoticesAfter('cancel', afterCancel);
    bed.simulators['fi-ftn']!.faults.tokenDelayMs = 3_000;
    try {
      await expectNoticesAfter('login', unavailable);
    } finally {
      bed.simulators['fi-ftn']!.faults.tokenDelayMs = 0;
    }
  }, 90_000);

  it('cancel on the BankID page: back on the picker, there too in a second tab of the login, and again after Back; from there another eID completes the login', async () => {
    await on('phone', async (page) => {
      await toPicker(page);
      await page.click('button[value="se-bankid"]');
      await page.waitForSelector('button[data-device="other"]:visible');
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      const secondTab = await page.context().newPage();
      await secondTab.goto(page.url());
      await secondTab.waitForSelector('#qr:visible');
      await page.click('#cancel');
      expect(await backOnPicker(page, 'picker-after-cancel-at-bankid')).toContain('You cancelled the login with BankID (Sweden).');
      // The second tab waited on the order just cancelled: it goes on to the picker too.
      await secondTab.waitForSelector('form.eids .eid');
      await secondTab.close();
      // Back to the BankID page, which waits on nothing now: it leads on to the picker rather than
      // asking, again after every reload, to reload the page.
      await page.goBack();
      await page.waitForURL((url) => !url.pathname.includes('/se-bankid/'));
      await page.waitForSelector('form.eids .eid');
      await page.click('button[value="dk-mitid"]');
      await atUpstream(page, 'login');
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('body')).toContain('dk-mitid');
    });
  }, 90_000);
});

describe('without JavaScript', () => {
  it("BankID's page links to the picker, which offers the other ways to log in, in the words its Cancel takes after an ending", async () => {
    const context = await browser.newContext({ viewport: viewports.desktop, locale: 'fi', javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await toPicker(page);
      const picker = new URL(page.url()).pathname;
      await page.click('button[value="se-bankid"]');
      await page.waitForSelector('#bankid');
      expect(await page.textContent('noscript a')).toBe(await page.getAttribute('#cancel', 'data-back'));
      await page.click('noscript a');
      await page.waitForSelector('form.eids .eid');
      expect(new URL(page.url()).pathname.replace(/\/$/, '')).toBe(picker);
      await page.click('button[value="fi-ftn"]');
      await atUpstream(page, 'login');
      await page.waitForURL(/\/demo\/callback/);
    } finally {
      await context.close();
    }
  }, 60_000);
});

describe('the login ends at the client at once', () => {
  it('for a client registered with return_to_picker: false — access_denied at its redirect_uri', async () => {
    await on('phone', async (page) => {
      await toPicker(page, (await strict.authorizationUrl()).href);
      await page.click('button[value="no-bankid"]');
      await atUpstream(page, 'cancel');
      const callback = await relyingParty.waitFor((request) => request.url.searchParams.get('state') === strict.flow.state);
      expect(callback.url.pathname).toBe('/callback');
      expect(callback.url.searchParams.get('error')).toBe('access_denied');
    });
  }, 60_000);

  it('when the client asked for one eID (acr_values) and it fails — the error at the client', async () => {
    await on('phone', async (page) => {
      await page.goto(`${bed.tb.issuer}/demo/login?acr=${encodeURIComponent('urn:nordic-eid:fi:ftn')}`);
      await atUpstream(page, 'cancel');
      await page.waitForURL(/\/demo\/callback/);
      expect(await page.textContent('body')).toContain('access_denied');
    });
  }, 60_000);
});

describe('what is under way survives a change of language, and Back', () => {
  it('the logout page keeps post_logout_redirect_uri and state when the language changes: the relying party gets its state', async () => {
    await on('desktop', async (page) => {
      await toPicker(page);
      await page.click('button[value="fi-ftn"]');
      await atUpstream(page, 'login');
      await page.waitForURL(/\/demo\/callback/);
      const logout = new URL('/session/end', bed.tb.issuer);
      logout.search = new URLSearchParams({ client_id: 'demo', post_logout_redirect_uri: `${bed.tb.issuer}/demo`, state: 'state-of-the-rp', ui_locales: 'en' }).toString();
      await page.goto(logout.href);
      await page.waitForSelector('button[name="logout"]');
      await page.click('nav.languages a[lang="fi"]');
      await page.waitForSelector('html[lang="fi"]');
      expect(new URL(page.url()).searchParams.get('state')).toBe('state-of-the-rp');
      await expectAccessible(page, 'logout (fi)');
      await screenshot(page, 'logout-after-language-change');
      await page.click('button[name="logout"]');
      await page.waitForURL((url) => url.pathname === '/demo' && url.searchParams.get('state') === 'state-of-the-rp');
    });
  }, 60_000);

  it('Back after a finished login: the expired page, with the way back to the client, the support reference and the language links', async () => {
    await on('phone', async (page) => {
      await toPicker(page);
      const picker = new URL(page.url()).pathname;
      await page.click('button[value="fi-ftn"]');
      await atUpstream(page, 'login');
      await page.waitForURL(/\/demo\/callback/);
      // The login's mark of being begun in this browser goes with its return: it stayed until the login expired.
      expect((await page.context().cookies(bed.tb.issuer)).map((cookie) => cookie.name).filter((name) => name.includes('neb_begun_'))).toEqual([]);
      // Back through the eID's page to the picker, which the broker no longer shows.
      for (let steps = 0; steps < 3 && new URL(page.url()).pathname !== picker; steps += 1) await page.goBack();
      expect(new URL(page.url()).pathname).toBe(picker);
      // Nothing went wrong: the login is over, and the page says so first.
      expect(await page.textContent('h1')).toBe('This login is over');
      expect(await page.title()).toBe('This login is over · Nordic eID');
      expect(await page.textContent('main')).toContain('This login has expired, has already finished, or was started in another browser.');
      const wayBack = page.locator('main a.button');
      expect(await wayBack.textContent()).toBe('Back to Demo service');
      expect(await wayBack.getAttribute('href')).toBe(`${bed.tb.issuer}/demo`);
      expect(await page.textContent('.support')).toMatch(/Support reference\s*[0-9a-f]{16,}/);
      await expectAccessible(page, 'expired');
      await screenshot(page, 'expired-after-back');

      await page.click('nav.languages a[lang="nb"]');
      await page.waitForSelector('html[lang="nb"]');
      expect(await page.textContent('main a.button')).toBe('Tilbake til Demotjeneste');
      await expectAccessible(page, 'expired (nb)');
      await page.click('main a.button');
      await page.waitForURL(`${bed.tb.issuer}/demo`);
    });
  }, 90_000);

  it('choosing an eID on a picker left open while the login finished elsewhere: the expired page, with its language links', async () => {
    await on('desktop', async (page) => {
      await toPicker(page);
      // The same login finishes in another tab; this one still shows the picker.
      const other = await page.context().newPage();
      await other.goto(page.url());
      await other.click('button[value="fi-ftn"]');
      await atUpstream(other, 'login');
      await other.waitForURL(/\/demo\/callback/);
      await page.click('button[value="no-bankid"]');
      await page.waitForSelector('.support');
      expect(await page.textContent('main')).toContain('This login has expired');
      expect(await page.textContent('main a.button')).toBe('Back to Demo service');
      await expectAccessible(page, 'expired (after a choice)');
      await page.click('nav.languages a[lang="sv"]');
      await page.waitForSelector('html[lang="sv"]');
      expect(await page.textContent('main')).toContain('Inloggningen har gått ut');
      expect(await page.textContent('h1')).toBe('Inloggningen är avslutad');
      expect(await page.textContent('main a.button')).toBe('Tillbaka till Demotjänst');
    });
  }, 60_000);
});
