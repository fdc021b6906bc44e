import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { launchChromium, viewports } from '../support/chromium.js';
import { asksToConfirmLogout } from '../support/http.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * Forms POSTed to the authorization and logout endpoints from a relying party's page on another
 * site, in a real chromium. The page is served from localhost, the broker is 127.0.0.1: two
 * sites, so the browser sends the broker's SameSite=Lax cookies with the POST's 303 GET, and not
 * with the POST itself. The form goes on sealed: no address the browser opens holds what the
 * client POSTed to keep out of addresses.
 */

let tb: TestBroker;
let receiver: Receiver;
let browser: Browser;
let rp: RelyingParty;
/** The relying party's pages, on a site other than the broker's. */
let otherSite: string;

const SECRET = 'a-secret-for-the-client-that-posts-its-requests';
const HTML = 'text/html; charset=utf-8';
/** The test double's person, whose personal number the client sends as login_hint. */
const PERSONAL_NUMBER = '198112189876';

beforeAll(async () => {
  browser = await launchChromium();
  receiver = await startReceiver();
  otherSite = `http://localhost:${new URL(receiver.origin).port}`;
  const registration = {
    client_id: 'posting',
    client_secret: SECRET,
    redirect_uris: [`${receiver.origin}/callback`],
    post_logout_redirect_uris: [`${receiver.origin}/logged-out`],
  };
  tb = await startTestBroker({ clients: [registration] }, 'posted-browser');
  rp = await RelyingParty.discover(tb.issuer, registration);
  // The relying party's pages submit their form once loaded, from a script of their own.
  receiver.serve('/submit.js', 'text/javascript', "addEventListener('load', () => document.forms[0].submit());");
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The relying party's page at `path` on the other site: a form POSTed to `action` with `fields` as soon as it has loaded. */
function serveForm(path: string, action: string, fields: URLSearchParams): string {
  const inputs = [...fields].map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`);
  receiver.serve(path, HTML, `<!doctype html><title>relying party</title><form method="post" action="${escapeHtml(action)}">${inputs.join('')}</form><script src="/submit.js"></script>`);
  return `${otherSite}${path}`;
}

/** A fresh desktop browser for `use`, closed afterwards whatever happens. */
async function onDesktop(use: (page: Page) => Promise<void>) {
  const context = await browser.newContext({ viewport: viewports.desktop, locale: 'en-GB' });
  try {
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

/** Every address the page opens from now on: its history, and what a proxy or access log on the way sees. */
function addressesOpened(page: Page): string[] {
  const addresses: string[] = [];
  page.on('request', (request) => addresses.push(request.url()));
  return addresses;
}

/** The next request of the page to `url` by `method`. */
const nextRequest = (page: Page, method: string, url: (href: string) => boolean): Promise<Request> =>
  page.waitForRequest((request) => request.method() === method && url(request.url()));

/** The person logs in from the relying party's page on the other site, which POSTs the authorization request; the code is redeemed. */
async function logInFromOtherSite(page: Page) {
  const authorization = await rp.authorizationUrl({ login_hint: PERSONAL_NUMBER });
  const opened = addressesOpened(page);
  const posted = nextRequest(page, 'POST', (href) => href === `${tb.issuer}/auth`);
  await page.goto(serveForm('/login', `${tb.issuer}/auth`, authorization.searchParams));
  const request = await posted;
  expect(await request.headerValue('sec-fetch-site')).toBe('cross-site');
  expect((await request.response())?.status()).toBe(303);

  await page.waitForURL(/\/decide$/);
  await page.goto(`${page.url()}?person=0`);
  expect(page.url()).toContain(`${receiver.origin}/callback?`);
  expect(opened.filter((address) => address.includes(PERSONAL_NUMBER))).toEqual([]);
  return rp.redeem(new URL(page.url()));
}

describe('a form POSTed from another site', () => {
  it('to /auth starts a login that the person finishes back at the client, with a code it redeems', async () => {
    await onDesktop(async (page) => {
      const tokens = await logInFromOtherSite(page);
      expect(tokens.claims()).toMatchObject({ name: 'Tessa Testsson', acr: 'urn:test:test-double' });
    });
  });

  it("to /session/end reaches the person's session through the 303: the confirmation, then that session ended", async () => {
    await onDesktop(async (page) => {
      const tokens = await logInFromOtherSite(page);
      const form = new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${receiver.origin}/logged-out`, state: 'bye' });
      const opened = addressesOpened(page);
      const posted = nextRequest(page, 'POST', (href) => href === `${tb.issuer}/session/end`);
      const sentOn = nextRequest(page, 'GET', (href) => href.startsWith(`${tb.issuer}/session/end?sealed_form=`));
      await page.goto(serveForm('/logout', `${tb.issuer}/session/end`, form));

      // The POST from the other site comes without the broker's session cookie, the GET after the 303 with it.
      expect((await (await posted).headerValue('cookie')) ?? '').not.toContain('_session=');
      const sessionCookie = (await (await sentOn).headerValue('cookie')) ?? '';
      expect(sessionCookie).toContain('_session=');
      // oidc-provider asks a session with a login to confirm; one it could not see it would end without asking.
      await page.click('button[name="logout"][value="yes"]');
      await page.waitForURL(`${receiver.origin}/logged-out?state=bye`);
      expect(opened.filter((address) => address.includes(tokens.id_token!))).toEqual([]);
      expect(await asksToConfirmLogout(tb.issuer, form.toString(), sessionCookie)).toBe(false);
    });
  });
});
