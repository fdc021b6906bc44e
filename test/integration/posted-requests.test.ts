import { beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { asksToConfirmLogout } from '../support/http.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

/**
 * The authorization and logout endpoints take a form by POST (OpenID Connect Core §3.1.2.1,
 * RP-Initiated Logout 1.0 §2): the broker answers it 303 to the same endpoint by GET, with the
 * form as the query, and the GET is answered as ever. test/browser/posted-requests.test.ts posts
 * from another site in a real browser.
 */

let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  tb = await startTestBroker({}, 'posted');
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

const FORM_TYPE = 'application/x-www-form-urlencoded';

/** A browser that asks for pages, as a person's does (Accept: text/html), with every request. */
function pageBrowser(): TestBrowser {
  const browser = new TestBrowser(tb.issuer);
  browser.headers.set('accept', 'text/html');
  return browser;
}

/** A form POSTed as a browser posts one, answered as it is (no redirect followed). */
function post(browser: TestBrowser, path: string, form: string, headers: Record<string, string> = {}) {
  return browser.request(path, { method: 'POST', headers: { 'content-type': FORM_TYPE, ...headers }, body: form });
}

/** The same form POSTed, with every redirect within the broker followed, as a browser does. */
function postAndFollow(browser: TestBrowser, path: string, form: string) {
  return browser.follow(path, { method: 'POST', headers: { 'content-type': FORM_TYPE }, body: form });
}

/** Where a request ended, to compare a POST's with a GET's: at the client, or on a page of the broker. */
function outcome({ leftTo, response }: { leftTo?: URL; response: Response }) {
  return { leftTo: leftTo?.href, status: response.status, type: response.headers.get('content-type') };
}

/** An authorization request's parameters written by hand, to send what a client library never would. */
function authorizationForm(extra: Array<[string, string]> = []): string {
  const params: Array<[string, string]> = [
    ['client_id', webClient.client_id],
    ['response_type', 'code'],
    ['redirect_uri', webClient.redirect_uris[0]!],
    ['scope', 'openid'],
    ['state', 'state-1'],
    ['code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'],
    ['code_challenge_method', 'S256'],
  ];
  return new URLSearchParams([...params, ...extra]).toString();
}

describe('a POST to the authorization endpoint', () => {
  it('is sent on to the GET with the form as its query; the login it starts ends in a code that is redeemed', async () => {
    const form = (await rp.authorizationUrl()).searchParams.toString();
    const posted = await post(rp.browser, '/auth', form);
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toBe(`${tb.issuer}/auth?${form}`);

    const started = await rp.browser.follow(posted.headers.get('location')!);
    expect(started.response.url).toContain('/decide');
    const { leftTo } = await rp.browser.follow(`${started.response.url}?person=0`);
    const tokens = await rp.redeem(leftTo!);
    expect(tokens.claims()).toMatchObject({ name: 'Tessa Testsson', acr: 'urn:test:test-double' });
  });

  it('is taken at exactly /auth and /session/end, and by POST only: the query of a POST is left out, as oidc-provider leaves it out', async () => {
    const browser = new TestBrowser(tb.issuer);
    const withQuery = await post(browser, '/auth?client_id=web-app', '');
    expect(withQuery.status).toBe(303);
    expect(withQuery.headers.get('location')).toBe(`${tb.issuer}/auth`);
    const put = await browser.request('/auth', { method: 'PUT', headers: { 'content-type': FORM_TYPE }, body: authorizationForm() });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('HEAD, GET, POST');
    // Beneath /auth, the return from a login takes GET only.
    const beneath = await post(browser, '/auth/some-uid', authorizationForm());
    expect(beneath.status).toBe(405);
    expect(beneath.headers.get('allow')).toBe('HEAD, GET');
  });
});

describe('a POST to the logout endpoint', () => {
  it('with id_token_hint and post_logout_redirect_uri ends the session as the GET does', async () => {
    const tokens = await rp.redeem(await logIn(rp));
    const form = new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: webClient.post_logout_redirect_uris[0]!, state: 'bye' }).toString();
    const sessionCookie = rp.browser.cookieHeader(new URL('/session/end', tb.issuer));
    expect(await asksToConfirmLogout(tb.issuer, form, sessionCookie)).toBe(true);

    const { response: confirmation } = await postAndFollow(rp.browser, '/session/end', form);
    expect(confirmation.url).toBe(`${tb.issuer}/session/end?${form}`);
    expect(confirmation.status).toBe(200);
    const page = await confirmation.text();
    expect(page).toContain('name="logout"');
    const { leftTo } = await rp.browser.confirmLogout(page);
    expect(leftTo?.href).toBe('https://rp.example/logged-out?state=bye');
    // The session of the login is gone from the broker: its cookie, sent again, finds no login to log out of.
    expect(await asksToConfirmLogout(tb.issuer, form, sessionCookie)).toBe(false);
  });
});

describe('a POST that cannot be sent on gets a clear answer', () => {
  it.each(['/auth', '/session/end'])('%s: a body that is not a form is 400 invalid_request naming the form type, as JSON or as the error page', async (path) => {
    const asJson = await fetch(`${tb.issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ client_id: webClient.client_id }),
    });
    expect(asJson.status).toBe(400);
    expect(await asJson.json()).toEqual({ error: 'invalid_request', error_description: `Send the parameters as a form: Content-Type ${FORM_TYPE}.` });

    const asPage = await post(pageBrowser(), path, 'client_id=web-app', { 'content-type': 'text/plain' });
    expect(asPage.status).toBe(400);
    expect(asPage.headers.get('content-type')).toContain('text/html');
    expect(await asPage.text()).toContain(asPage.headers.get('traceid')!);
  });

  it.each([
    ['/auth', authorizationForm([['scope', 'openid profile']])],
    ['/session/end', new URLSearchParams([['state', 'one'], ['state', 'two']]).toString()],
  ])('%s: a repeated parameter is refused as it is in a query', async (path, form) => {
    const viaGet = await pageBrowser().follow(`${path}?${form}`);
    const viaPost = await postAndFollow(pageBrowser(), path, form);
    expect(outcome(viaPost)).toEqual(outcome(viaGet));
    if (path === '/auth') {
      expect(viaPost.leftTo?.searchParams.get('error')).toBe('invalid_request');
      expect(viaPost.leftTo?.searchParams.get('error_description')).toContain('scope');
    } else {
      expect(viaPost.response.status).toBe(400);
    }
  });

  it('a parameter longer than the broker keeps is refused as it is in a query', async () => {
    const form = authorizationForm().replace('state=state-1', `state=${'s'.repeat(4097)}`);
    const asJson = { accept: 'application/json' };
    const viaGet = await fetch(`${tb.issuer}/auth?${form}`, { headers: asJson });
    const viaPost = await post(new TestBrowser(tb.issuer), '/auth', form, asJson);
    expect(viaPost.status).toBe(400);
    expect(await viaPost.json()).toEqual({ error: 'invalid_request', error_description: 'state is too long (at most 4096 characters).' });
    expect(viaGet.status).toBe(400);
    expect(await viaGet.json()).toEqual({ error: 'invalid_request', error_description: 'state is too long (at most 4096 characters).' });
  });

  it('an authorization request that does not fit in a URL is refused with the advice to push it (PAR), which then works', async () => {
    // A claims parameter asking for many claims one by one: no parameter too long, but over 8 KiB in all once in a URL.
    const claims = JSON.stringify({ userinfo: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`x_claim_${i}`, null])) });
    const form = (await rp.authorizationUrl({ claims })).searchParams.toString();
    const posted = await post(new TestBrowser(tb.issuer), '/auth', form, { accept: 'application/json' });
    expect(posted.status).toBe(400);
    const { error, error_description: description } = (await posted.json()) as { error: string; error_description: string };
    expect(error).toBe('invalid_request');
    expect(description).toBe(
      `The request does not fit in a URL (at most 8192 bytes). Push it to ${tb.issuer}/request (PAR, RFC 9126) and send here only client_id and the request_uri it answers with.`,
    );

    const pushed = await rp.browser.follow(await rp.pushedAuthorizationUrl({ claims }));
    expect(pushed.response.url).toContain('/decide');
  });

  it('a logout request that does not fit in a URL is refused with what to send instead', async () => {
    const form = new URLSearchParams({ id_token_hint: 'e'.repeat(8100), post_logout_redirect_uri: webClient.post_logout_redirect_uris[0]!, state: 'bye' }).toString();
    const posted = await post(new TestBrowser(tb.issuer), '/session/end', form, { accept: 'application/json' });
    expect(posted.status).toBe(400);
    expect(await posted.json()).toEqual({
      error: 'invalid_request',
      error_description: 'The request does not fit in a URL (at most 8192 bytes). Send fewer or shorter parameters (client_id in place of a long id_token_hint).',
    });
  });

  it.each(['/auth', '/session/end'])('%s: an empty body is answered as a GET without parameters', async (path) => {
    const withAndWithoutType: Array<Record<string, string>> = [{ 'content-type': FORM_TYPE }, {}];
    for (const headers of withAndWithoutType) {
      const posted = await pageBrowser().request(path, { method: 'POST', headers });
      expect(posted.status).toBe(303);
      expect(posted.headers.get('location')).toBe(`${tb.issuer}${path}`);
    }
    const viaPost = await postAndFollow(pageBrowser(), path, '');
    const viaGet = await pageBrowser().follow(path);
    expect(outcome(viaPost)).toEqual(outcome(viaGet));
  });
});
