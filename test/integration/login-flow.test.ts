import { beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

/** A client whose logins end at the first failed eID, as they did before the picker took the person back. */
const endsAtFirstFailure = {
  client_id: 'no-second-chance',
  client_secret: 'a-secret-for-the-client-that-ends-at-the-first-failure',
  redirect_uris: ['https://no-second-chance.example/callback'],
  return_to_picker: false,
};

const restrictedClient = {
  client_id: 'se-only',
  client_secret: 'a-secret-for-the-client-that-may-only-use-one-eid',
  redirect_uris: ['https://se-only.example/callback'],
  allowed_eids: ['test-double'],
};

let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  tb = await startTestBroker(
    {
      clients: [webClient, restrictedClient, endsAtFirstFailure],
      eids: {
        'test-double': { acr_values: ['urn:test:se', 'urn:test:se:other-device'] },
        'other-double': { country: 'NO', acr_values: ['urn:test:no'] },
      },
    },
    'login-flow',
  );
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

/** Where the login went first: the picker, an eID's page, or straight back to the client. */
async function firstStop(relyingParty: RelyingParty, params: Record<string, string> = {}) {
  const { leftTo, response } = await relyingParty.authorize(params);
  return { leftTo, response, url: new URL(response.url), body: leftTo ? '' : await response.text() };
}

describe('choosing the eID', () => {
  it('without acr_values, offers every eID the client may use on the picker, grouped by country', async () => {
    const { url, body, response } = await firstStop(rp);
    expect(url.pathname).toMatch(/^\/interaction\/[^/]+$/);
    expect(response.headers.get('content-type')).toContain('text/html');
    // Back after the login has gone on must ask the broker again, not show this page from a cache.
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(body).toContain('value="test-double"');
    expect(body).toContain('value="other-double"');
    expect(body).toContain('<legend>Sweden</legend>');
    expect(body).toContain('<legend>Norway</legend>');
  });

  it('escapes the client name it shows', async () => {
    const { body } = await firstStop(rp);
    expect(body).toContain('Web &lt;App&gt; &amp; Co');
    expect(body).not.toContain('Web <App>');
  });

  it('the picker starts the eID the person chooses', async () => {
    const { url } = await firstStop(rp);
    const { response } = await rp.browser.submit(`${url.pathname}/select`, { eid: 'other-double' });
    expect(response.url).toContain('/other-double/decide');
  });

  it('refuses an eID that is not offered, without ending the login', async () => {
    const { url } = await firstStop(rp);
    const refused = await rp.browser.submit(`${url.pathname}/select`, { eid: 'nonexistent' });
    expect(refused.response.status).toBe(400);
    const { response } = await rp.browser.submit(`${url.pathname}/select`, { eid: 'test-double' });
    expect(response.url).toContain('/test-double/decide');
  });

  it('an acr value of one eID goes straight there, and the token carries the acr used', async () => {
    const { response, body } = await firstStop(rp, { acr_values: 'urn:test:se:other-device' });
    expect(JSON.parse(body)).toMatchObject({ acr: 'urn:test:se:other-device' });
    const { leftTo } = await rp.browser.follow(`${response.url}&person=0`);
    const tokens = await rp.redeem(leftTo!);
    expect(tokens.claims()).toMatchObject({ acr: 'urn:test:se:other-device', amr: ['test'] });
  });

  it('acr values of several eIDs show the picker with just those', async () => {
    const { body } = await firstStop(rp, { acr_values: 'urn:test:no urn:test:se' });
    expect(body).toContain('value="test-double"');
    expect(body).toContain('value="other-double"');
  });

  it('an unknown acr value is refused at the client with invalid_request', async () => {
    const { leftTo } = await firstStop(rp, { acr_values: 'urn:test:nope' });
    expect(leftTo?.searchParams.get('error')).toBe('invalid_request');
    expect(leftTo?.searchParams.get('error_description')).toContain('urn:test:nope');
    expect(leftTo?.searchParams.get('state')).toBe(rp.flow.state);
    expect(leftTo?.searchParams.get('iss')).toBe(tb.issuer);
  });

  it('an eID the client may not use is never offered, and asking for it is refused', async () => {
    const restricted = await RelyingParty.discover(tb.issuer, restrictedClient);
    const direct = await firstStop(restricted);
    expect(direct.url.pathname).toContain('/test-double/decide');

    const { leftTo } = await firstStop(restricted, { acr_values: 'urn:test:no' });
    expect(leftTo?.searchParams.get('error')).toBe('unauthorized_client');

    const picker = await firstStop(rp);
    const forced = await restricted.browser.submit(`${picker.url.pathname}/select`, { eid: 'other-double' });
    expect(forced.response.status).toBe(400);
  });
});

describe('failures reach the client as OIDC errors', () => {
  it.each(['access_denied', 'eid_doesnt_exist', 'insufficient_scope', 'server_error'])('%s', async (error) => {
    const callback = await logIn(rp, { acr_values: 'urn:test:se' }, `fail=${error}`);
    expect(callback.origin).toBe('https://rp.example');
    expect(callback.searchParams.get('error')).toBe(error);
    expect(callback.searchParams.get('error_description')).toBe(`the test double failed with ${error}`);
    expect(callback.searchParams.get('state')).toBe(rp.flow.state);
    expect(callback.searchParams.get('iss')).toBe(tb.issuer);
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('cancelling on the picker is access_denied', async () => {
    const { url } = await firstStop(rp);
    const { leftTo } = await rp.browser.submit(`${url.pathname}/cancel`, {});
    expect(leftTo?.searchParams.get('error')).toBe('access_denied');
  });
});

describe('a failed eID takes the person back to the picker', () => {
  /** Chooses `eid` on the picker and ends its login with `decision`; returns where the browser went. */
  async function tryEid(relyingParty: RelyingParty, picker: URL, eid: string, decision: string) {
    const { response } = await relyingParty.browser.submit(`${picker.pathname}/select`, { eid });
    return relyingParty.browser.follow(`${response.url}?${decision}`);
  }

  it.each([
    ['server_error', 'other-double is not available right now.'],
    ['access_denied', 'The login with other-double did not succeed.'],
  ])('after %s, says so on the picker, and another eID completes the login', async (error, notice) => {
    const { url } = await firstStop(rp);
    const back = await tryEid(rp, url, 'other-double', `fail=${error}`);
    expect(back.leftTo).toBeUndefined();
    expect(new URL(back.response.url).pathname).toBe(`${url.pathname}/`);
    const picker = await back.response.text();
    expect(picker).toContain(notice);
    expect(picker).toContain('value="test-double"');
    const ui = await rp.browser.request(`${url.pathname}/api/ui`, { headers: { accept: 'application/json' } });
    expect(await ui.json()).toMatchObject({ notice: { eid: 'other-double', reason: error === 'server_error' ? 'unavailable' : 'failed', message: notice } });

    const done = await tryEid(rp, url, 'test-double', 'person=0');
    expect(done.leftTo?.searchParams.get('code')).toBeTruthy();
    expect((await rp.redeem(done.leftTo!)).claims()).toMatchObject({ idp: 'test-double' });
  });

  it('a cancel on the eID\'s page goes back to the picker; Cancel there ends the login with access_denied', async () => {
    const { url } = await firstStop(rp);
    const { response } = await rp.browser.submit(`${url.pathname}/select`, { eid: 'test-double' });
    expect(response.url).toContain('/test-double/decide');
    // The eID's page has a Cancel of its own, without the picker's leave=login.
    const back = await rp.browser.submit(`${url.pathname}/cancel`, { leave: 'eid' });
    expect(await back.response.text()).toContain('You cancelled the login with test-double.');
    const { leftTo } = await rp.browser.submit(`${url.pathname}/cancel`, { leave: 'login' });
    expect(leftTo?.searchParams.get('error')).toBe('access_denied');
  });

  it('not for a client registered with return_to_picker: false — its login ends at the client', async () => {
    const strict = await RelyingParty.discover(tb.issuer, endsAtFirstFailure);
    const { url } = await firstStop(strict);
    const { leftTo } = await tryEid(strict, url, 'test-double', 'fail=server_error');
    expect(leftTo?.origin).toBe('https://no-second-chance.example');
    expect(leftTo?.searchParams.get('error')).toBe('server_error');
  });
});

describe('an upstream eID returning to /eid/<id>/callback', () => {
  it('carries the outcome back into the interaction and completes the login', async () => {
    const callback = await logIn(rp, { acr_values: 'urn:test:se' }, 'person=1&via=callback');
    const tokens = await rp.redeem(callback);
    expect(tokens.claims()).toMatchObject({ name: 'Anna Andersson', idp_person_id: 'person-2' });
  });

  it('carries a failure back the same way', async () => {
    const callback = await logIn(rp, { acr_values: 'urn:test:se' }, 'fail=access_denied&via=callback');
    expect(callback.searchParams.get('error')).toBe('access_denied');
  });
});

describe('the interaction pages', () => {
  it('answer a browser without the interaction cookie with a plain-words page and its traceId', async () => {
    const { url } = await firstStop(rp);
    const stranger = new TestBrowser(tb.issuer);
    const response = await stranger.request(url.pathname, { headers: { accept: 'text/html', 'accept-language': 'sv' } });
    expect(response.status).toBe(400);
    const traceId = response.headers.get('traceid')!;
    expect(traceId).toMatch(/^[0-9a-f]{16}$/);
    const page = await response.text();
    expect(page).toContain(traceId);
    expect(page).toContain('Inloggningen har gått ut');
    expect(page).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('refuse a form posted from another origin', async () => {
    const { url } = await firstStop(rp);
    const response = await rp.browser.request(`${url.pathname}/select`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: 'eid=test-double',
    });
    expect(response.status).toBe(403);
  });

  it('refuse a request a browser marks as cross-site, and accept the Origin "null" of the broker\'s own pages', async () => {
    const { url, body } = await firstStop(rp);
    const formToken = /name="form_token" value="([^"]+)"/.exec(body)![1]!;
    const crossSite = await rp.browser.request(`${url.pathname}/select`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
      body: 'eid=test-double',
    });
    expect(crossSite.status).toBe(403);
    const ownPage = await rp.browser.request(`${url.pathname}/select`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', origin: 'null' },
      body: `eid=test-double&form_token=${formToken}`,
    });
    expect(ownPage.status).toBe(303);
  });

  it('send the security headers, and a traceId on every response', async () => {
    const { response } = await firstStop(rp);
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    for (const path of ['/.well-known/openid-configuration', '/jwks', '/nowhere', '/static/broker.css']) {
      expect((await fetch(`${tb.issuer}${path}`)).headers.get('traceid'), path).toMatch(/^[0-9a-f]{16}$/);
    }
  });

  it('pick the language from ui_locales, then Accept-Language', async () => {
    const finnish = await firstStop(rp, { ui_locales: 'fi-FI sv' });
    expect(finnish.body).toContain('lang="fi"');
    expect(finnish.body).toContain('Valitse tunnistustapa');
    const danishBrowser = await RelyingParty.discover(tb.issuer, webClient);
    danishBrowser.browser.headers.set('accept-language', 'da-DK,da;q=0.9,en;q=0.5');
    const { body } = await firstStop(danishBrowser);
    expect(body).toContain('lang="da"');
  });

  it("take a login's addresses as written only: in another case they are none of its (404), as the steps before them read them", async () => {
    const { url } = await firstStop(rp);
    const ui = (path: string) => rp.browser.request(path, { headers: { accept: 'application/json' } });
    expect((await ui(`${url.pathname}/api/ui`)).status).toBe(200);
    for (const path of [`${url.pathname}/API/ui`, `${url.pathname}/api/UI`, url.pathname.replace('/interaction/', '/Interaction/')]) {
      expect((await ui(path)).status, path).toBe(404);
    }
  });

  it('answer an unknown path with 404 in plain words', async () => {
    const response = await fetch(`${tb.issuer}/nowhere`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'not_found', error_description: expect.any(String) });
  });
});
