import { beforeAll, describe, expect, it } from 'vitest';
import { SEALED_FORM_SECONDS, SealedForms } from '../../src/oidc/sealed-forms.js';
import { TestBrowser } from '../support/browser.js';
import { publicClient, startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { asksToConfirmLogout } from '../support/http.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

/**
 * The authorization and logout endpoints take a form by POST (OpenID Connect Core §3.1.2.1,
 * RP-Initiated Logout 1.0 §2): the broker answers it 303 to the same endpoint by GET, with the
 * form sealed in the query beside its client_id, and the GET, the form opened, is answered as a
 * GET with the form as its query is. test/browser/posted-requests.test.ts posts from another site
 * in a real browser.
 */

let tb: TestBroker;
let rp: RelyingParty;

/** The broker's store encryption key, from which the sealed forms' key is derived: the tests seal forms of their own with it. */
const SEALING_KEY = 'a-store-encryption-key-for-the-posted-requests-tests';

/** A client that takes authorization requests only through PAR (RFC 9126 §6). */
const pushingClient = {
  client_id: 'pushing',
  client_secret: 'a-pushing-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://pushing.example/callback'],
  require_pushed_authorization_requests: true,
};

/** The test double's person, whose personal number a client sends as login_hint. */
const PERSONAL_NUMBER = '198112189876';

beforeAll(async () => {
  tb = await startTestBroker({ clients: [webClient, publicClient, pushingClient], store_encryption_keys: [SEALING_KEY] }, 'posted');
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

/** The sealed form in a URL the broker sent a POST on to. */
const sealedFormOf = (url: string) => new URL(url).searchParams.get('sealed_form')!;

describe('a POST to the authorization endpoint', () => {
  it('is sent on to the GET with the form sealed beside its client_id, its login_hint in no URL; the login it starts ends in a code that is redeemed', async () => {
    const form = (await rp.authorizationUrl({ login_hint: PERSONAL_NUMBER })).searchParams.toString();
    const posted = await post(rp.browser, '/auth', form);
    expect(posted.status).toBe(303);
    const location = posted.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${tb.issuer}/auth\\?client_id=web-app&sealed_form=sealed%3A[\\w-]+%3A[\\w-]+$`));
    expect(location).not.toContain(PERSONAL_NUMBER);

    const started = await rp.browser.follow(location);
    expect(started.response.url).toContain('/decide');
    expect(started.response.url).not.toContain(PERSONAL_NUMBER);
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

  it('from a client that must push its requests (PAR) is refused after the 303 as its GET is', async () => {
    const pushing = await RelyingParty.discover(tb.issuer, pushingClient);
    const form = (await pushing.authorizationUrl({ login_hint: PERSONAL_NUMBER })).searchParams.toString();
    const viaPost = await postAndFollow(pushing.browser, '/auth', form);
    expect(viaPost.leftTo?.origin).toBe('https://pushing.example');
    expect(viaPost.leftTo?.searchParams.get('error')).toBe('invalid_request');
    expect(viaPost.leftTo?.searchParams.get('error_description')).toMatch(/Pushed Authorization Request must be used/);
  });
});

/** A request sealed as the broker seals it, with its key: `until` moved by `shiftMs`, for the address `to`. */
function sealedAs(to: string, form: string, shiftMs = 0, key = SEALING_KEY): string {
  return new SealedForms([key], () => Date.now() + shiftMs).seal(to, new URLSearchParams(form));
}

describe('a GET with a sealed form that does not open is refused in plain words, and nothing else is taken in its place', () => {
  const form = () => authorizationForm([['login_hint', PERSONAL_NUMBER]]);
  /** What a GET at /auth carries, and the words its refusal has. */
  const cases: Array<[string, () => Promise<string>, string]> = [
    [
      'altered',
      async () => {
        const sealed = sealedFormOf((await post(new TestBrowser(tb.issuer), '/auth', form())).headers.get('location')!);
        const middle = sealed.length - 30;
        const altered = `${sealed.slice(0, middle)}${sealed[middle] === 'A' ? 'B' : 'A'}${sealed.slice(middle + 1)}`;
        return new URLSearchParams({ client_id: 'web-app', sealed_form: altered }).toString();
      },
      'sealed_form was not sealed by this broker, or was altered since: send the request again.',
    ],
    [
      'expired',
      async () => new URLSearchParams({ client_id: 'web-app', sealed_form: sealedAs('/auth', form(), -(SEALED_FORM_SECONDS + 1) * 1000) }).toString(),
      `sealed_form has expired (it opens for ${SEALED_FORM_SECONDS} seconds after the POST): send the request again.`,
    ],
    [
      "another broker's",
      async () => new URLSearchParams({ client_id: 'web-app', sealed_form: sealedAs('/auth', form(), 0, 'another-broker-s-store-encryption-key') }).toString(),
      'sealed_form was not sealed by this broker, or was altered since: send the request again.',
    ],
    [
      "the logout endpoint's",
      async () => new URLSearchParams({ client_id: 'web-app', sealed_form: sealedAs('/session/end', form()) }).toString(),
      'sealed_form was sealed for /session/end, not for this address: send the request again.',
    ],
    [
      'with a parameter beside it',
      async () => `${new URLSearchParams({ client_id: 'web-app', sealed_form: sealedAs('/auth', form()) })}&prompt=none`,
      'A request with sealed_form carries no other parameters than the client_id sealed in it: send them in the form.',
    ],
    [
      'with another client_id',
      async () => new URLSearchParams({ client_id: 'spa', sealed_form: sealedAs('/auth', form()) }).toString(),
      'A request with sealed_form carries no other parameters than the client_id sealed in it: send them in the form.',
    ],
  ];

  it.each(cases)('%s: 400 invalid_request saying why', async (_, query, description) => {
    const refused = await fetch(`${tb.issuer}/auth?${await query()}`, { headers: { accept: 'application/json' }, redirect: 'manual' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: 'invalid_request', error_description: description });
  });

  it('as a page, it says to go back to the service and start again, with the trace id', async () => {
    const sealed = sealedAs('/session/end', new URLSearchParams({ post_logout_redirect_uri: webClient.post_logout_redirect_uris[0]! }).toString(), -(SEALED_FORM_SECONDS + 1) * 1000);
    const refused = await pageBrowser().request(`/session/end?sealed_form=${encodeURIComponent(sealed)}`);
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toContain('text/html');
    const page = await refused.text();
    expect(page).toContain('This request from the service is no longer valid');
    expect(page).toContain(refused.headers.get('traceid')!);
  });
});

describe('a POST to the logout endpoint', () => {
  it('with id_token_hint and post_logout_redirect_uri ends the session as the GET does', async () => {
    const tokens = await rp.redeem(await logIn(rp));
    const form = new URLSearchParams({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: webClient.post_logout_redirect_uris[0]!, state: 'bye' }).toString();
    const sessionCookie = rp.browser.cookieHeader(new URL('/session/end', tb.issuer));
    expect(await asksToConfirmLogout(tb.issuer, form, sessionCookie)).toBe(true);

    const { response: confirmation } = await postAndFollow(rp.browser, '/session/end', form);
    expect(confirmation.url).toBe(`${tb.issuer}/session/end?sealed_form=${encodeURIComponent(sealedFormOf(confirmation.url))}`);
    expect(confirmation.status).toBe(200);
    const page = await confirmation.text();
    expect(page).toContain('name="logout"');
    // Nor do its language links carry the id_token_hint: they carry the form sealed, and show the page again.
    expect(page).not.toContain(tokens.id_token!);
    const swedish = /href="(\?sealed_form=[^"]+)"[^>]*>Svenska/.exec(page)?.[1]?.replaceAll('&amp;', '&');
    expect(swedish).toMatch(/&lang=sv$/);
    const inSwedish = await rp.browser.request(`/session/end${swedish}`);
    expect(inSwedish.status).toBe(200);
    const swedishPage = await inSwedish.text();
    expect(swedishPage).toContain('<html lang="sv"');
    // The page shown again asks anew (a new xsrf): the person answers there.
    const { leftTo } = await rp.browser.confirmLogout(swedishPage);
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
      `The request does not fit in a URL once sealed (at most 8192 bytes; sealing makes it about a third longer). Push it to ${tb.issuer}/request (PAR, RFC 9126) and send here only client_id and the request_uri it answers with.`,
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
      error_description: 'The request does not fit in a URL once sealed (at most 8192 bytes; sealing makes it about a third longer). Send fewer or shorter parameters (client_id in place of a long id_token_hint).',
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
