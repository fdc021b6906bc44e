import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { expectAccessible, launchChromium, newPhone } from '../support/chromium.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

/**
 * The pages for a person who reads them their own way, in a real chromium: with a screen reader
 * (what the waiting page's live status says, and how often), with a larger text size set in
 * the browser, without JavaScript, and in their own language when something they did not cause
 * goes wrong.
 */
let browser: Browser;
let tb: TestBroker;
/** A relying party that takes its answers as form posts (response_mode=form_post), as mod_auth_openidc is set up. */
let postedBack: Receiver;

beforeAll(async () => {
  browser = await launchChromium();
  postedBack = await startReceiver();
  const client = {
    client_id: 'posted-back',
    client_secret: 'a-secret-for-the-client-that-takes-form-posts',
    redirect_uris: [`${postedBack.origin}/callback`],
    post_logout_redirect_uris: [`${postedBack.origin}/logged-out`],
    display_name: 'Posted back',
  };
  tb = await startTestBroker(
    // Open registration: a client anyone registered, whose errors stop at a page first.
    { demo: true, clients: [client], eids: { 'se-bankid': { mode: 'simulator', poll_frequency: 1 }, 'no-bankid': { mode: 'simulator' } }, registration: { enabled: true, initial_access_token: false } },
    'own-settings',
  );
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

async function onPhone(use: (page: Page, context: BrowserContext) => Promise<void>, locale = 'en-GB') {
  const context = await newPhone(browser, locale);
  try {
    await use(await context.newPage(), context);
  } finally {
    await context.close();
  }
}

/**
 * Runs in the page: from now on, the text the status line holds after each change to it. A
 * screen reader reads a live region again at each such change. A string, since the tests are
 * not compiled for the DOM.
 */
const RECORD_STATUS_CHANGES = `(() => {
  const status = document.getElementById('status');
  const changes = [];
  new MutationObserver(() => changes.push(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true });
  window.statusChanges = changes;
})()`;

/** Runs in the page: whether the status line is rendered (no hidden section around it), and what it says. */
const STATUS_LINE_BEFORE_ANY = `(() => {
  const status = document.getElementById('status');
  return { rendered: status.checkVisibility(), text: status.textContent };
})()`;

/** Runs in the page: the h1's font size, and whether the page is wider than the screen. */
const TEXT_AND_WIDTH = `(() => ({
  heading: getComputedStyle(document.querySelector('h1')).fontSize,
  scrollsSideways: document.documentElement.scrollWidth > document.documentElement.clientWidth,
  // The error code and support reference the person is to quote: on a line or two, not a character a line.
  supportReadable: [...document.querySelectorAll('.support code')].every((code) => {
    const range = document.createRange();
    range.selectNodeContents(code);
    return range.getClientRects().length <= 2;
  }),
}))()`;

describe('the waiting page, through a screen reader', () => {
  it('says the first status, into a live region already on the page, and then once: a page that polls (no event stream) does not set it again with the same words each second', async () => {
    await onPhone(async (page) => {
      let polls = 0;
      // No event stream, so that the page polls once a second; each answer carries the same status.
      await page.route('**/api/events*', (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{}' }));
      page.on('request', (request) => {
        if (new URL(request.url()).pathname.endsWith('/api/poll')) polls += 1;
      });
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[value="se-bankid"]');
      await page.waitForSelector('button[data-device="other"]:visible');
      // A live region brought in with its first words (a hidden section shown) is not read out: it has to be there, empty, before them.
      expect(await page.evaluate(STATUS_LINE_BEFORE_ANY)).toEqual({ rendered: true, text: '' });
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      const said = await page.textContent('#status');
      expect(said).toBe('Open your BankID app and scan the QR code.');
      await page.evaluate(RECORD_STATUS_CHANGES);
      const pollsBefore = polls;
      await expect.poll(() => polls - pollsBefore, { timeout: 15_000 }).toBeGreaterThanOrEqual(4);
      // The QR code kept changing meanwhile; the status did not, and nothing was said again.
      expect(await page.textContent('#status')).toBe(said);
      expect(await page.evaluate('window.statusChanges')).toEqual([]);
    });
  }, 60_000);

  it("says a lost connection in the page's language, not the browser's or the API's English, and goes on once it is back", async () => {
    await onPhone(async (page) => {
      await page.route('**/api/events*', (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{}' }));
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[value="se-bankid"]');
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      const waiting = await page.textContent('#status');
      const interrupted = 'Anslutningen till inloggningen bröts. Om inget händer inom en stund, ladda om sidan.';
      // The phone loses the network for a moment ("Failed to fetch" in the browser's words)…
      await page.route('**/api/poll*', (route) => route.abort('internetdisconnected'));
      await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toBe(interrupted);
      // …then a proxy answers in its own way; the API's words are for developers, in English.
      await page.unroute('**/api/poll*');
      let failedPolls = 0;
      await page.route('**/api/poll*', (route) => {
        failedPolls += 1;
        return route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: 'server_error', error_description: 'Something failed on our side.' }) });
      });
      await expect.poll(() => failedPolls, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      expect(await page.textContent('#status')).toBe(interrupted);
      // Back online: the page picks up where the login stands.
      await page.unroute('**/api/poll*');
      await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toBe(waiting);
      expect(await page.isVisible('#qr')).toBe(true);
    }, 'sv-SE');
  }, 60_000);
});

describe('a larger text size set in the browser', () => {
  it.each([
    // The error's words speak of the login as its heading does (in Danish "Dette login", as "Dette login er afsluttet").
    ['fi-FI', 'Valitse tunnistustapa', 'Kirjautuminen on vanhentunut, jo päättynyt '],
    ['da-DK', 'Vælg, hvordan du vil logge ind', 'Dette login er udløbet, er allerede afsluttet '],
  ])('in %s: every page follows it (twice the usual size) and still fits a 320 px wide screen', async (locale, pickerHeading, errorStart) => {
    const context = await browser.newContext({ viewport: { width: 320, height: 640 }, locale });
    try {
      const page = await context.newPage();
      // What the person set as the browser's text size: 32 px instead of 16.
      const devtools = await context.newCDPSession(page);
      await devtools.send('Page.enable');
      await devtools.send('Page.setFontSizes', { fontSizes: { standard: 32 } });
      const seen: Record<string, unknown> = {};
      const look = async (name: string) => {
        seen[name] = await page.evaluate(TEXT_AND_WIDTH);
      };
      await page.goto(`${tb.issuer}/demo`);
      await look('demo');
      await page.click('a[href="/demo/login"]');
      await page.waitForSelector('form.eids');
      expect(await page.textContent('h1')).toBe(pickerHeading);
      await look('picker');
      await page.click('button[value="se-bankid"]');
      await page.waitForSelector('button[data-device="other"]:visible');
      await look('bankid');
      await page.click('button[data-device="other"]');
      await page.waitForSelector('#qr:visible');
      await look('bankid-qr');
      await page.click('#cancel');
      await page.waitForSelector('.notice');
      await look('picker-with-notice');
      await page.click('button[value="no-bankid"]');
      await page.click('form[action$="/login"] button');
      await page.waitForSelector('dl.claims');
      await look('demo-result');
      await page.goto(`${tb.issuer}/interaction/no-such-login`);
      await look('error');
      expect((await page.textContent('main .lead'))!.slice(0, errorStart.length)).toBe(errorStart);
      await page.goto(`${tb.issuer}/session/end`);
      await page.waitForSelector('button[name="logout"]');
      await look('logout');
      await page.click('button[name="logout"]');
      await page.waitForURL(/\/session\/end\/success/);
      await look('logged-out');
      const expected = { heading: '48px', scrollsSideways: false, supportReadable: true };
      expect(seen).toEqual(Object.fromEntries(Object.keys(seen).map((name) => [name, expected])));
    } finally {
      await context.close();
    }
  }, 90_000);
});

describe("an eID's answer that belongs to no login under way", () => {
  it("the same answer again after the login finished (Back, a reload): a page in the person's language that says so, not one blaming the service", async () => {
    await onPhone(async (page) => {
      const answers: string[] = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/eid/no-bankid/callback') answers.push(request.url());
      });
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[value="no-bankid"]');
      await page.click('form[action$="/login"] button');
      await page.waitForURL(/\/demo\/callback/);
      expect(answers).toHaveLength(1);
      const again = await page.goto(answers[0]!);
      expect(again?.status()).toBe(400);
      expect(await page.getAttribute('html', 'lang')).toBe('sv');
      // The answer is followed to the login it belonged to (a reload while the first is exchanged
      // ends where that one does), and that login is over.
      expect(await page.textContent('main .lead')).toBe(
        'Inloggningen har gått ut, är redan avslutad eller startades i en annan webbläsare. Gå tillbaka till tjänsten och börja om.',
      );
      expect(await page.textContent('.support')).toContain('session_expired');
    }, 'sv-SE');
  }, 60_000);

  it('an answer whose login the broker no longer knows (kept past its time, or from another browser): the page leads back to the service this browser last logged in to', async () => {
    await onPhone(async (page) => {
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[value="no-bankid"]');
      await page.waitForSelector('form[action$="/login"] button');
      // The eID answers with a state no login under way holds: one whose 15 minutes ran out.
      const answer = await page.goto(`${tb.issuer}/eid/no-bankid/callback?code=a-code&state=a-state-long-gone`);
      expect(answer?.status()).toBe(400);
      expect(await page.textContent('main .lead')).toContain('Svaret fra eID-en din hører ikke til noen pågående innlogging.');
      expect(await page.textContent('.support')).toMatch(/[0-9a-f]{16,}/);
      // A way on: the page said to go back to the service, with no way there.
      const wayBack = page.locator('main a.button');
      expect(await wayBack.textContent()).toBe('Tilbake til Demotjeneste');
      expect(await wayBack.getAttribute('href')).toBe(`${tb.issuer}/demo`);
      await expectAccessible(page, 'an answer that belongs to no login (nb)');
      // A browser that logged in nowhere here gets the page without one: the broker knows no service to lead to.
      await page.context().clearCookies();
      await page.goto(`${tb.issuer}/eid/no-bankid/callback?code=a-code&state=a-state-long-gone`);
      expect(await page.locator('main a.button').count()).toBe(0);
      // Nor one whose last login is of a client anyone registered: any page could open its login, then this address.
      const registered = await fetch(`${tb.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [`${postedBack.origin}/open`], client_name: 'Anyone', client_uri: `${postedBack.origin}/home` }),
      });
      const { client_id: clientId } = (await registered.json()) as { client_id: string };
      await page.goto(`${tb.issuer}/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: `${postedBack.origin}/open`, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`);
      await page.waitForSelector('form.eids');
      await page.goto(`${tb.issuer}/eid/no-bankid/callback?code=a-code&state=a-state-long-gone`);
      expect(await page.textContent('main .lead')).toContain('Svaret fra eID-en din hører ikke til noen pågående innlogging.');
      expect(await page.locator('main a.button').count()).toBe(0);
    }, 'nb-NO');
  }, 60_000);
});

describe("the page that passes a form on (a form_post answer, a logout with no login to end)", () => {
  const authorization = () =>
    `${tb.issuer}/auth?${new URLSearchParams({
      client_id: 'posted-back',
      response_type: 'code',
      response_mode: 'form_post',
      scope: 'openid',
      redirect_uri: `${postedBack.origin}/callback`,
      state: 'state-of-the-rp',
      nonce: 'nonce-of-the-rp',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    })}`;

  it("without JavaScript: in the person's language, with a heading and a Continue button that takes the login's answer to the client", async () => {
    const context = await browser.newContext({ locale: 'sv-SE', javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(authorization());
      await page.click('button[value="no-bankid"]');
      await page.click('form[action$="/login"] button');
      await page.waitForSelector('#form-post');
      expect(await page.getAttribute('html', 'lang')).toBe('sv');
      expect(await page.title()).toBe('Ett ögonblick · Nordisk e-legitimation');
      expect(await page.textContent('h1')).toBe('Ett ögonblick');
      expect(await page.textContent('main .lead')).toBe('Du skickas vidare. Om inget händer, välj Fortsätt.');
      await page.click('#form-post button');
      const answer = await postedBack.waitFor((request) => request.url.pathname === '/callback');
      expect(answer.method).toBe('POST');
      const fields = new URLSearchParams(answer.body);
      expect(fields.get('state')).toBe('state-of-the-rp');
      expect(fields.get('code')).toBeTruthy();
      expect(fields.get('iss')).toBe(tb.issuer);

      // The client asks to log out, with no login left in this browser: nothing to confirm, on to the client.
      const logout = `${tb.issuer}/session/end?${new URLSearchParams({ client_id: 'posted-back', post_logout_redirect_uri: `${postedBack.origin}/logged-out`, state: 'logout-state' })}`;
      await page.context().clearCookies();
      await page.goto(logout);
      expect(await page.textContent('h1')).toBe('Ett ögonblick');
      await page.click('#form-post button');
      await page.waitForURL(`${postedBack.origin}/logged-out?state=logout-state`);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('with JavaScript: posts the form by itself, with no console error (the script is the broker\'s own, as the CSP wants), and the page passes axe', async () => {
    await onPhone(async (page) => {
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));
      await page.goto(authorization());
      await page.click('button[value="no-bankid"]');
      await page.click('form[action$="/login"] button');
      const answer = await postedBack.waitFor((request) => request.url.pathname === '/callback' && new URLSearchParams(request.body).get('code') !== null && request.headers['accept-language'] === 'fi-FI');
      expect(answer.method).toBe('POST');
      expect(problems).toEqual([]);
      // The page itself, held back from posting (its script not loaded): axe finds nothing.
      await page.route('**/static/form-post.js', (route) => route.abort());
      await page.context().clearCookies();
      await page.goto(`${tb.issuer}/session/end?client_id=posted-back`);
      await page.waitForSelector('#form-post');
      expect(await page.getAttribute('html', 'lang')).toBe('fi');
      await expectAccessible(page, 'form post (fi)');
    }, 'fi-FI');
  }, 60_000);
});

describe('the error of a client anyone registered (open registration): a page before the person leaves', () => {
  it("stops on the broker's origin, in the person's language, naming the host; Continue takes the very answer on, posted (form_post) or as a link (a cancel at the picker), and nothing goes by itself", async () => {
    const registered = await fetch(`${tb.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [`${postedBack.origin}/open`], client_name: 'Anyone', logo_uri: 'https://bank.example/logo.png' }),
    });
    const { client_id: clientId } = (await registered.json()) as { client_id: string };
    const authorization = (extra: Record<string, string>) =>
      `${tb.issuer}/auth?${new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: `${postedBack.origin}/open`, state: 'open-state', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', ...extra })}`;
    const host = new URL(postedBack.origin).host;
    await onPhone(async (page) => {
      // prompt=none fails at once (every login runs an eID): oidc-provider would post login_required on by itself.
      const shown = await page.goto(authorization({ prompt: 'none', response_mode: 'form_post' }));
      expect(shown?.status()).toBe(400);
      expect(shown?.headers()['content-security-policy']).not.toMatch(/sha256|unsafe-inline/);
      expect(new URL(page.url()).origin).toBe(tb.issuer);
      expect(await page.getAttribute('html', 'lang')).toBe('fi');
      expect(await page.textContent('h1')).toBe('Ennen kuin jatkat');
      expect(await page.textContent('main .lead')).toContain(host);
      // Anyone can connect a service to the login service (not to "this login", the one that just failed).
      expect(await page.textContent('main')).toContain('Kuka tahansa voi liittää palvelun tähän tunnistuspalveluun');
      expect(await page.locator('script').count()).toBe(0);
      expect(await page.textContent('.support')).toContain('login_required');
      await expectAccessible(page, 'leaving page, form post (fi)');
      expect(postedBack.received.filter((request) => request.url.pathname === '/open')).toEqual([]);
      await page.click(`#leave button:text-is("Jatka osoitteeseen ${host}")`);
      const posted = await postedBack.waitFor((request) => request.url.pathname === '/open' && request.method === 'POST');
      expect(Object.fromEntries(new URLSearchParams(posted.body))).toEqual({ error: 'login_required', error_description: expect.any(String), state: 'open-state', iss: tb.issuer });

      // A login's own end (its return, resume): the person cancels at the picker, which names the
      // client by where it leads as well as by the name anyone could have given it, without its logo.
      await page.goto(authorization({}));
      expect(await page.textContent('main')).toContain(`Anyone (${host})`);
      expect(await page.locator('img[src="https://bank.example/logo.png"]').count()).toBe(0);
      await page.click('form[action$="/cancel"] button');
      await page.waitForSelector('a#leave');
      expect(new URL(page.url()).origin).toBe(tb.issuer);
      await expectAccessible(page, 'leaving page, a link (fi)');
      await page.click('a#leave');
      const linked = await postedBack.waitFor((request) => request.url.pathname === '/open' && request.method === 'GET');
      expect(Object.fromEntries(linked.url.searchParams)).toEqual({ error: 'access_denied', error_description: expect.any(String), state: 'open-state', iss: tb.issuer });
    }, 'fi-FI');
  }, 60_000);
});

/** Through the DevTools protocol: the accessible description of the button named `name`, what a screen reader says after its name. */
async function buttonDescription(page: Page, name: string): Promise<string> {
  const devtools = await page.context().newCDPSession(page);
  try {
    const { nodes } = await devtools.send('Accessibility.getFullAXTree');
    const button = nodes.find((node) => node.role?.value === 'button' && node.name?.value === name);
    return String(button?.description?.value ?? '');
  } finally {
    await devtools.detach();
  }
}

describe('the logout confirmation for a client anyone registered (open registration)', () => {
  it('the focused Yes (and No) carries who asks, where either answer leads and the caution, which asks for an answer the page offers', async () => {
    const registered = await fetch(`${tb.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [`${postedBack.origin}/open`], post_logout_redirect_uris: [`${postedBack.origin}/open-bye`], client_name: 'Vem som helst' }),
    });
    const { client_id: clientId } = (await registered.json()) as { client_id: string };
    const host = new URL(postedBack.origin).host;
    await onPhone(async (page) => {
      await page.goto(`${tb.issuer}/demo/login`);
      await page.click('button[value="no-bankid"]');
      await page.click('form[action$="/login"] button');
      await page.waitForURL(/\/demo\/callback/);
      await page.goto(`${tb.issuer}/session/end?${new URLSearchParams({ client_id: clientId, post_logout_redirect_uri: `${postedBack.origin}/open-bye` })}`);
      await page.waitForSelector('button[name="logout"]');
      // The page's focus starts on Yes, so a screen reader reads the button and nothing above it: each button says it all.
      expect(await page.evaluate('document.activeElement?.textContent')).toBe('Ja, logga ut');
      for (const button of ['Ja, logga ut', 'Nej, fortsätt vara inloggad']) {
        const description = await buttonDescription(page, button);
        expect(description).toContain(`Vem som helst (${host}) vill logga ut dig.`);
        expect(description).toContain(`Oavsett vad du väljer skickas du sedan vidare till ${host}.`);
        expect(description).toContain(`Svara bara om du känner igen ${host}.`);
      }
      // The leaving page's caution speaks of a Continue button; this page has Yes and No.
      expect(await page.textContent('main')).not.toContain('Fortsätt');
      await expectAccessible(page, 'logout confirmation, a client anyone registered (sv)');
      await page.click('button.secondary');
      await page.waitForURL(`${postedBack.origin}/open-bye`);
    }, 'sv-SE');
  }, 60_000);
});
