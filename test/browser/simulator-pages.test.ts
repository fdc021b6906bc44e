import type { Browser, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { expectAccessible, launchChromium, newPhone } from '../support/chromium.js';

/**
 * The way through the upstream eIDs' simulators, as `npm start` runs them, in a real chromium:
 * from the picker to the simulator's page and back to the client, with nothing in the console
 * on any page on the way (a missing icon is a failed request, logged as an error).
 */
let browser: Browser;
let tb: TestBroker;
const LOCALES = ['sv-SE', 'en-GB', 'nb-NO', 'fi-FI', 'da-DK'] as const;
/** The name of a page's language links in each locale's language, as the broker's own pages give it. */
const LANGUAGE_LINKS_NAME: Record<(typeof LOCALES)[number], string> = { 'sv-SE': 'Språk', 'en-GB': 'Language', 'nb-NO': 'Språk', 'fi-FI': 'Kieli', 'da-DK': 'Sprog' };
/**
 * A broker with simulators of its own for each locale's walk through every page: a simulated
 * app shows every login waiting at its simulator, so walks that run at once must not share one.
 */
const brokerOf: Partial<Record<(typeof LOCALES)[number], TestBroker>> = {};

/** The demo with every upstream eID's simulator, as `npm start` runs them. */
const startSimulatorsBroker = (name: string) =>
  startTestBroker(
    {
      demo: true,
      eids: Object.fromEntries(['no-bankid', 'fi-ftn', 'dk-mitid', 'cz-bankid', 'se-bankid', 'se-freja'].map((eid) => [eid, { mode: 'simulator' }])),
    },
    name,
  );

beforeAll(async () => {
  [browser, tb] = await Promise.all([launchChromium(), startSimulatorsBroker('simulator-pages')]);
  await Promise.all(LOCALES.map(async (locale) => (brokerOf[locale] = await startSimulatorsBroker(`simulator-pages-${locale}`))));
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

describe("an upstream eID's simulator after the login left it", () => {
  // The upstream eIDs' page is asked for again on Back (no-store), and says at once that the login
  // is over: the browser's kept copy offered test persons that led only to that page. Bank iD's
  // shows the request again, and a person chosen there gets it.
  it.each([
    ['no-bankid', 'form[action$="/cancel"] button', undefined],
    ['fi-ftn', 'form[action$="/cancel"] button', undefined],
    ['dk-mitid', 'form[action$="/cancel"] button', undefined],
    ['cz-bankid', 'button[name="decision"][value="decline"]', 'button[name="decision"][value="approve"]'],
  ])('%s: Back to its page after Cancel (then a test person chosen, where it offers them): a page in the person\'s language that says the login is over, with the way back to the login', async (eid, cancel, approve) => {
    const context = await newPhone(browser, 'nb-NO');
    try {
      const page = await context.newPage();
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click(`button[value="${eid}"]`);
      await page.click(cancel);
      await page.waitForSelector('.notice');
      await page.goBack();
      if (approve) await page.click(approve);
      await page.waitForSelector('html[lang="nb"] main p');
      expect(await page.locator('main button').count()).toBe(0);
      expect(await page.textContent('main p')).toBe(
        'Denne innloggingen pågår ikke lenger her: den er allerede fullført, avbrutt eller for gammel. Gå tilbake til innloggingen for å velge på nytt eller for å gå tilbake til tjenesten.',
      );
      await expectAccessible(page, `${eid} simulator, login over`);
      // The way on, which the page only spoke of: back at the broker, where the login stands (its picker, saying why).
      await page.getByRole('link', { name: 'Tilbake til innloggingen' }).click();
      await page.waitForURL((url) => url.origin === tb.issuer);
      await page.waitForSelector('html[lang="nb"] .notice');
      expect(await page.locator('button[value="no-bankid"]').count()).toBe(1);
    } finally {
      await context.close();
    }
  }, 60_000);
});

describe("an upstream eID's simulator refusing a request", () => {
  // oidc-provider's page showed its English (`invalid_client: client is invalid`) and no way on.
  it("no-bankid: plain words in the page's language, the error's code, and the way back to the login at the broker", async () => {
    const context = await newPhone(browser, 'da-DK');
    try {
      const page = await context.newPage();
      const simulator = new URL(await simulatorPageOf(page, 'no-bankid'));
      await page.goto(`${simulator.origin}/auth?${new URLSearchParams({ client_id: 'nobody', response_type: 'code', scope: 'openid', redirect_uri: 'https://rp.example/cb' })}`);
      await page.waitForSelector('html[lang="da"] main code');
      expect(await page.textContent('main p')).toBe('Det simulerede eID kunne ikke modtage anmodningen. Gå tilbage til login for at vælge igen eller for at vende tilbage til tjenesten.');
      expect(await page.textContent('main code')).toBe('invalid_client');
      await expectAccessible(page, 'no-bankid simulator, request refused');
      // Back to the login this browser was shown the simulator's page of: at the picker, as after its Cancel.
      await page.getByRole('link', { name: 'Tilbage til login' }).click();
      await page.waitForURL((url) => url.origin === tb.issuer);
      expect(await page.textContent('html[lang="da"] .notice')).toContain('BankID (Norge)');
    } finally {
      await context.close();
    }
  }, 60_000);
});

/** Runs in the page: the languages whose link is not underlined, as links are. */
const LINKS_NOT_DRAWN_AS_LINKS = `[...document.querySelectorAll('nav.languages a')]
  .filter((link) => getComputedStyle(link).textDecorationLine === 'none')
  .map((link) => link.getAttribute('hreflang'))`;

/** The page's language and its heading. */
async function shown(page: Page): Promise<{ lang: string | null; heading: string | null }> {
  return { lang: await page.getAttribute('html', 'lang'), heading: await page.textContent('h1') };
}

/** The simulator page each upstream eID shows, as the picker's button of `on` leads to it. */
async function simulatorPageOf(page: Page, eid: string, on: TestBroker = tb): Promise<string> {
  await page.goto(`${on.issuer}/demo/login`);
  await page.click(`button[value="${eid}"]`);
  await page.waitForURL((url) => url.origin !== new URL(on.issuer).origin);
  await page.waitForSelector('h1');
  const url = new URL(page.url());
  url.searchParams.delete('lang');
  return url.href;
}

describe("a simulator's pages speak the person's language", () => {
  it.each(['no-bankid', 'fi-ftn', 'dk-mitid'])("%s: the page saying the login is over (Back after Cancel) is in the login's language, not the browser's", async (eid) => {
    const context = await newPhone(browser, 'en-GB');
    try {
      const page = await context.newPage();
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('nav.languages a[lang="fi"]');
      await page.click(`button[value="${eid}"]`);
      await page.waitForSelector('html[lang="fi"] form[action$="/cancel"] button');
      await page.click('form[action$="/cancel"] button');
      await page.waitForSelector('.notice');
      await page.goBack();
      await page.waitForSelector('main p');
      expect(await page.getAttribute('html', 'lang')).toBe('fi');
      expect(await page.textContent('main p')).toBe('Tämä kirjautuminen ei ole enää kesken täällä: se on jo päättynyt, peruttu tai vanhentunut. Palaa kirjautumiseen valitaksesi uudelleen tai palataksesi palveluun.');
    } finally {
      await context.close();
    }
  }, 60_000);

  it.each([
    ['no-bankid', { sv: 'Simulerat norskt BankID', fi: 'Simuloitu norjalainen BankID', da: 'Simuleret norsk BankID', en: 'Simulated Norwegian BankID' }, 'Ola Johan Hansen (45018012301) — D-nummer'],
    ['fi-ftn', { sv: 'Simulerat finländskt tillitsnätverk (FTN)', fi: 'Simuloitu luottamusverkosto (FTN)', da: 'Simuleret finsk tillidsnetværk (FTN)', en: 'Simulated Finnish Trust Network' }, 'Annuller'],
    ['dk-mitid', { sv: 'Simulerad MitID-mäklare', fi: 'Simuloitu MitID-välittäjä', da: 'Simuleret MitID-broker', en: 'Simulated MitID broker' }, 'Mette Hansen — MitID-appen (betydelig)'],
    ['cz-bankid', { sv: 'Simulerat Bank iD', fi: 'Simuloitu Bank iD', da: 'Simuleret Bank iD', en: 'Simulated Bank iD' }, 'Log ind og del oplysningerne'],
  ])('%s: its page in the language its link asks for, English for one it does not speak, and the login goes on', async (eid, headings, danish) => {
    const context = await newPhone(browser);
    try {
      const page = await context.newPage();
      const problems = consoleProblems(page);
      const simulator = await simulatorPageOf(page, eid);
      expect(await page.getAttribute('html', 'lang')).toBe('en');
      for (const lang of ['sv', 'fi', 'da'] as const) {
        await page.click(`nav.languages a[hreflang="${lang}"]`);
        await page.waitForSelector(`html[lang="${lang}"]`);
        expect(await shown(page)).toEqual({ lang, heading: headings[lang] });
        // The page's language stands out among the links, for the eye too: only it is not drawn as a link.
        expect(await page.evaluate(LINKS_NOT_DRAWN_AS_LINKS)).toEqual([lang]);
      }
      expect(await page.textContent('main')).toContain(danish);
      // The language links as a screen reader reads them: the names alone, not the dots between them.
      expect(await page.locator('nav.languages').ariaSnapshot()).not.toContain('·');
      await page.goto(`${simulator}${simulator.includes('?') ? '&' : '?'}lang=xx`);
      expect(await shown(page)).toEqual({ lang: 'en', heading: headings.en });
      await page.click(eid === 'cz-bankid' ? 'button[name="decision"][value="approve"]' : 'form[action$="/login"] button');
      await page.waitForSelector('dl.claims');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it("Bank iD's test persons are described in the page's language: only their names and numbers stay as they are", async () => {
    const context = await newPhone(browser);
    try {
      const page = await context.newPage();
      const simulator = await simulatorPageOf(page, 'cz-bankid');
      const persons: Record<string, string[]> = {};
      for (const lang of ['en', 'sv', 'nb', 'fi', 'da', 'cs']) {
        await page.goto(`${simulator}&lang=${lang}`);
        persons[lang] = await page.$$eval('fieldset label', (labels) => labels.map((label) => label.textContent!.trim()));
      }
      expect(persons.sv).toEqual([
        'Petra Dvořáková (905302/4563)',
        'Jan Tomáš Novák (850715/1235)',
        'Marie Svobodová (455101/123) — född 1945: ett niosiffrigt födelsenummer',
        'Tomáš Dvořák (102505/7891) — född 2010: under 18 år',
        'Anna Schmidt — tysk medborgare: inget födelsenummer',
        'Bank iD är inte aktivt hos den här banken (eid_doesnt_exist)',
        'får inte använda Bank iD (user_not_eligible)',
      ]);
      // The same words as the English page's are the plain names and numbers alone.
      const plain = persons.en!.filter((label) => /^[^—]+\(\d+\/\d+\)$/.test(label));
      expect(plain).toHaveLength(2);
      for (const lang of ['nb', 'fi', 'da', 'cs']) {
        expect(persons[lang]!.filter((label) => persons.en!.includes(label)), lang).toEqual(plain);
      }
    } finally {
      await context.close();
    }
  }, 60_000);

  it("the simulated BankID app's other endings are named in the page's language: BankID's hintCode only in brackets", async () => {
    const context = await newPhone(browser);
    try {
      const [page, app] = [await context.newPage(), await context.newPage()];
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[value="se-bankid"]');
      await page.click('button[data-device="other"]');
      const appUrl = new URL((await page.getAttribute('p.simulator a', 'href'))!);
      const named: Record<string, { label: string | null; button: string | null }> = {};
      for (const lang of ['sv', 'nb', 'fi', 'da']) {
        appUrl.searchParams.set('lang', lang);
        await app.goto(appUrl.href);
        // Inside the order's closed details: there, not shown.
        await app.waitForSelector('form[action="/app/fail"] button', { state: 'attached', timeout: 10_000 });
        const fail = app.locator('form[action="/app/fail"]').first();
        named[lang] = { label: await fail.locator('label').evaluate((label) => label.firstChild!.textContent!.trim()), button: await fail.locator('button').textContent() };
      }
      expect(named).toEqual({
        sv: { label: 'Orsak (hintCode)', button: 'Avsluta ordern med den här orsaken' },
        nb: { label: 'Årsak (hintCode)', button: 'Avslutt ordren med denne årsaken' },
        fi: { label: 'Syy (hintCode)', button: 'Päätä tilaus tällä syyllä' },
        da: { label: 'Årsag (hintCode)', button: 'Afslut ordren med denne årsag' },
      });
    } finally {
      await context.close();
    }
  }, 60_000);

  it("the simulated Freja eID app's ways to spoil a result are said in the page's language, each after its name", async () => {
    const context = await newPhone(browser, 'sv-SE');
    try {
      const [page, app] = [await context.newPage(), await context.newPage()];
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[value="se-freja"]');
      await page.click('button[data-device="other"]');
      await app.goto((await page.getAttribute('p.simulator a', 'href'))!);
      await appShows(app, '/app/scan');
      await app.click('form[action="/app/scan"] button');
      await app.waitForSelector('select[name="tampering"]', { state: 'attached', timeout: 10_000 });
      expect(await app.$$eval('select[name="tampering"] option', (options) => options.map((option) => option.textContent))).toEqual([
        'badSignature: signaturen stämmer inte med resultatet',
        'unknownCertificate: signerat med ett certifikat som inte är Frejas',
        'algNone: inte signerat alls (alg none)',
        'wrongAuthRef: resultatet av en annan transaktion',
        'levelMismatch: en lägre registreringsnivå än den som begärdes',
        'stale: bekräftat för en timme sedan',
      ]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it("the upstream simulators open in the broker page's language, in each of the five, also one their eID does not speak", async () => {
    const opened: Record<string, string | null> = {};
    for (const locale of ['sv', 'en', 'nb', 'fi', 'da']) {
      const context = await newPhone(browser, locale);
      try {
        const page = await context.newPage();
        for (const eid of ['no-bankid', 'fi-ftn', 'dk-mitid', 'cz-bankid']) {
          await simulatorPageOf(page, eid);
          opened[`${eid} ${locale}`] = await page.getAttribute('html', 'lang');
        }
      } finally {
        await context.close();
      }
    }
    expect(opened).toEqual(Object.fromEntries(Object.keys(opened).map((name) => [name, name.split(' ')[1]])));
  }, 60_000);

  it.each([
    ['se-bankid', { sv: 'Simulerad BankID-app', fi: 'Simuloitu BankID-sovellus', en: 'Simulated BankID app' }],
    ['se-freja', { sv: 'Simulerad Freja eID-app', fi: 'Simuloitu Freja eID -sovellus', en: 'Simulated Freja eID app' }],
  ])("%s: the simulated app follows the broker page's language, keeps a language picked on it, and speaks English else", async (eid, headings) => {
    const context = await newPhone(browser, 'sv-SE');
    try {
      const page = await context.newPage();
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click(`button[value="${eid}"]`);
      const link = await page.getAttribute('p.simulator a', 'href');
      expect(link).toMatch(/\?lang=sv$/);
      await page.goto(link!);
      expect(await shown(page)).toEqual({ lang: 'sv', heading: headings.sv });
      await page.click('nav.languages a[hreflang="fi"]');
      await page.waitForSelector('html[lang="fi"]');
      expect(await shown(page)).toEqual({ lang: 'fi', heading: headings.fi });
      // Its own look for a new login and the redirects after its buttons carry no ?lang=: the picked language holds.
      const app = new URL(link!);
      await page.goto(`${app.origin}${app.pathname}`);
      expect(await shown(page)).toEqual({ lang: 'fi', heading: headings.fi });

      for (const [query, acceptLanguage] of [['?lang=xx', 'de'], ['', 'de-DE, fr;q=0.5']] as const) {
        const html = await (await fetch(`${app.origin}${app.pathname}${query}`, { headers: { 'accept-language': acceptLanguage } })).text();
        expect(html).toContain('<html lang="en">');
        expect(html).toContain(`<h1>${headings.en}</h1>`);
      }
      const danish = await (await fetch(`${app.origin}${app.pathname}`, { headers: { 'accept-language': 'da-DK' } })).text();
      expect(danish).toContain('<html lang="da">');
    } finally {
      await context.close();
    }
  }, 60_000);
});

/** Runs in the page: whether it is wider than the screen, which would make the person scroll sideways. */
const SCROLLS_SIDEWAYS = 'document.documentElement.scrollWidth > document.documentElement.clientWidth';

/**
 * Runs in the page: the focused element, and whether its focus ring shows clearly: a solid line
 * of at least 2 px, set off from it, at least 3:1 against the page's light grey (#eef1f4, whose
 * relative luminance is 0.87) and so against the white of the card.
 */
const FOCUS_RING = `(() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const [r, g, b] = style.outlineColor.match(/\\d+/g).slice(0, 3).map((value) => {
    const c = value / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const contrast = (0.87 + 0.05) / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05);
  const clear = style.outlineStyle === 'solid' && parseFloat(style.outlineWidth) >= 2 && parseFloat(style.outlineOffset) >= 2 && contrast >= 3;
  return { element: element.tagName, clear };
})()`;

/** Tabs through the page up to its first button (or its end, or twelve stops): the elements reached whose focus ring does not show clearly. */
async function unclearFocusRings(tab: Page): Promise<string[]> {
  const unclear: string[] = [];
  for (let stop = 0; stop < 12; stop += 1) {
    await tab.keyboard.press('Tab');
    const { element, clear } = (await tab.evaluate(FOCUS_RING)) as { element: string; clear: boolean };
    if (element === 'BODY') break;
    if (!clear) unclear.push(element);
    if (element === 'BUTTON') break;
  }
  return unclear;
}

/**
 * The simulated app's page, in `app`, once it shows the button of `action` (its own script finds a
 * login that starts, looking every two seconds). A CI run with the other files side by side took
 * 13.7 s for what takes 2 s alone: the wait allows for a loaded machine, within the test's minute.
 */
async function appShows(app: Page, action: string) {
  await app.waitForSelector(`form[action="${action}"] button`, { timeout: 25_000 });
}

/**
 * Runs in the page: the buttons (and links drawn as buttons) shown whose edge a forced-colours
 * theme (Windows' contrast themes) does not draw: it removes their backgrounds, so a button
 * without a border of its own is left as plain text among the page's words.
 */
const BUTTONS_WITHOUT_EDGE = `[...document.querySelectorAll('button, a.button')]
  .filter((element) => element.getClientRects().length > 0)
  .filter((element) => {
    const style = getComputedStyle(element);
    return style.borderTopStyle === 'none' || parseFloat(style.borderTopWidth) < 1;
  })
  .map((element) => element.textContent.trim())`;

describe("every simulator's page in a forced-colours theme", () => {
  it('each button keeps its edge: on the upstream eIDs\' pages and the simulated apps', async () => {
    const context = await browser.newContext({ viewport: { width: 320, height: 640 }, forcedColors: 'active' });
    try {
      const [page, app] = [await context.newPage(), await context.newPage()];
      const edgeless: Record<string, string[]> = {};
      for (const eid of ['no-bankid', 'cz-bankid']) {
        await simulatorPageOf(page, eid);
        edgeless[eid] = (await page.evaluate(BUTTONS_WITHOUT_EDGE)) as string[];
      }
      for (const [eid, scan] of [
        ['se-bankid', '/app/scan'],
        ['se-freja', '/app/scan'],
      ] as const) {
        await page.goto(`${tb.issuer}/demo/login`);
        await page.click(`button[value="${eid}"]`);
        await page.click('button[data-device="other"]');
        await app.goto((await page.getAttribute('p.simulator a', 'href'))!);
        await appShows(app, scan);
        edgeless[`${eid} app`] = (await app.evaluate(BUTTONS_WITHOUT_EDGE)) as string[];
      }
      expect(edgeless).toEqual({ 'no-bankid': [], 'cz-bankid': [], 'se-bankid app': [], 'se-freja app': [] });
    } finally {
      await context.close();
    }
  }, 60_000);
});

// The walks of the five locales at once: each waits for its simulated apps to look again (every
// two seconds) while the others use the processor. Each walk's time limit covers all five.
describe.concurrent("every simulator's page, for everyone", () => {
  it.each(LOCALES)(
    'in %s: no axe-core violation, a clear focus ring for the keyboard, and each fits a 320 px screen at twice the text size; a simulated app waiting for a login does not reload itself on a timer',
    async (locale) => {
      const tb = brokerOf[locale]!;
      const context = await browser.newContext({ viewport: { width: 320, height: 640 }, locale });
      try {
        const [page, app] = [await context.newPage(), await context.newPage()];
        const problems = [...consoleProblems(page), ...consoleProblems(app)];
        const devtools = new Map<Page, CDPSession>();
        for (const tab of [page, app]) {
          const session = await context.newCDPSession(tab);
          await session.send('Page.enable');
          devtools.set(tab, session);
        }
        /** The browser's text size as the person set it, in px (16 is the usual). */
        const textSize = (tab: Page, standard: number) => devtools.get(tab)!.send('Page.setFontSizes', { fontSizes: { standard } });
        const sideways: Record<string, boolean> = {};
        const rings: Record<string, string[]> = {};
        const navNames: Record<string, unknown> = {};
        const check = async (tab: Page, name: string) => {
          await expectAccessible(tab, `${name} (${locale})`);
          navNames[name] = await tab.evaluate("document.querySelector('nav.languages')?.getAttribute('aria-label')");
          rings[name] = await unclearFocusRings(tab);
          await textSize(tab, 32);
          sideways[name] = (await tab.evaluate(SCROLLS_SIDEWAYS)) as boolean;
          await textSize(tab, 16);
        };
        for (const [eid, approve] of [
          ['no-bankid', 'form[action$="/login"] button'],
          ['fi-ftn', 'form[action$="/login"] button'],
          ['dk-mitid', 'form[action$="/login"] button'],
          ['cz-bankid', 'button[name="decision"][value="approve"]'],
        ] as const) {
          await simulatorPageOf(page, eid, tb);
          await check(page, eid);
          await page.click(approve);
          await page.waitForSelector('dl.claims');
        }
        for (const [eid, scan, approve] of [
          ['se-bankid', '/app/scan', '/app/identify'],
          ['se-freja', '/app/scan', '/app/approve'],
        ] as const) {
          await page.goto(`${tb.issuer}/demo/login`);
          await page.click(`button[value="${eid}"]`);
          await page.waitForSelector('button[data-device="other"]:visible');
          await app.goto((await page.getAttribute('p.simulator a', 'href'))!);
          expect(await app.$('meta[http-equiv="refresh"]'), `${eid}'s app waiting for a login`).toBeNull();
          await check(app, `${eid} app, nothing waiting`);
          await page.click('button[data-device="other"]');
          await appShows(app, scan);
          // The status is said once, by its live region: the focus goes to the step that took the
          // pressed button's place, not to the status line as well (which had it read twice).
          // (A wait of the page's, not expect.poll: these walks run concurrently, and expect.poll needs its test's own expect.)
          await page.waitForFunction("document.activeElement?.id === 'progress' && document.getElementById('status').textContent !== ''");
          await check(app, `${eid} app, a login to scan`);
          await app.click(`form[action="${scan}"] button`);
          await appShows(app, approve);
          await check(app, `${eid} app, a login to approve`);
          await app.click(`form[action="${approve}"] button`);
          await page.waitForSelector('dl.claims');
        }
        expect(sideways).toEqual(Object.fromEntries(Object.keys(sideways).map((name) => [name, false])));
        expect(rings).toEqual(Object.fromEntries(Object.keys(rings).map((name) => [name, []])));
        // The language links are named, in the page's language: a screen reader lists the page's navigation by name.
        expect(navNames).toEqual(Object.fromEntries(Object.keys(rings).map((name) => [name, LANGUAGE_LINKS_NAME[locale]])));
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    },
    300_000,
  );
});
