import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { rawConnection } from '../support/http.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  tb = await startTestBroker(
    { eids: { 'test-double': { acr_values: ['urn:test:se'] }, 'other-double': { country: 'NO', acr_values: ['urn:test:no'] } } },
    'request-forgery',
  );
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

/** A login on the picker in this browser: its path and the page. */
async function picker() {
  const { response } = await rp.authorize();
  return { path: new URL(response.url).pathname, page: await response.text() };
}

/**
 * What a page on another site makes a browser without Fetch Metadata send: the person's
 * cookies, `Origin: null` (a sandboxed or privacy-stripped origin) and no Sec-Fetch-Site.
 */
function crossSitePost(path: string, contentType: string, body: string) {
  return rp.browser.request(path, { method: 'POST', headers: { 'content-type': contentType, origin: 'null', accept: 'application/json' }, body });
}

describe('a form posted to a login from another site', () => {
  it('is refused on the picker (select, cancel) without the form token of that login', async () => {
    const { path } = await picker();
    for (const [action, body] of [['select', 'eid=test-double'], ['cancel', '']] as const) {
      const response = await crossSitePost(`${path}/${action}`, 'application/x-www-form-urlencoded', body);
      expect(response.status, action).toBe(403);
      expect(await response.json()).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    }
    // The login goes on: the person's own page still works.
    const { response } = await rp.browser.submit(`${path}/select`, { eid: 'other-double' });
    expect(response.url).toContain('/other-double/decide');
  });

  it("is refused with another login's form token, or a made-up one", async () => {
    const first = await picker();
    const otherToken = /name="form_token" value="([^"]+)"/.exec(first.page)![1]!;
    const { path } = await picker();
    for (const token of [otherToken, 'x'.repeat(43), '']) {
      const response = await crossSitePost(`${path}/select`, 'application/x-www-form-urlencoded', `eid=test-double&form_token=${token}`);
      expect(response.status).toBe(403);
    }
  });

  it('is accepted from the picker itself, which carries its token', async () => {
    const { path, page } = await picker();
    const token = /name="form_token" value="([^"]+)"/.exec(page)![1]!;
    expect(page.match(/name="form_token"/g)).toHaveLength(2);
    const response = await crossSitePost(`${path}/cancel`, 'application/x-www-form-urlencoded', `form_token=${token}`);
    expect(response.status).toBe(303);
    const { leftTo } = await rp.browser.follow(response.headers.get('location')!);
    expect(leftTo?.searchParams.get('error')).toBe('access_denied');
  });

  it('the error page inside a login carries the token in its way back', async () => {
    const { path } = await picker();
    const refused = await rp.browser.submit(`${path}/select`, { eid: 'nope' });
    expect(refused.response.status).toBe(400);
    expect(await refused.response.text()).toMatch(/<form method="post" action="[^"]+\/cancel">\s*<input type="hidden" name="form_token" value="[^"]+">/);
    const { leftTo } = await rp.browser.submit(`${path}/cancel`, {});
    expect(leftTo?.searchParams.get('error')).toBe('access_denied');
  });
});

describe('the JSON API under /interaction/<uid>/api/', () => {
  it('answers a POST that is not JSON with 415 and a JSON error, and changes nothing', async () => {
    const { path } = await picker();
    const attempts: Array<[string, string, string]> = [
      ['start', 'application/x-www-form-urlencoded', 'eid=test-double'],
      ['cancel', 'application/x-www-form-urlencoded', ''],
      ['start', 'text/plain', '{"eid":"test-double"}'],
      ['cancel', 'multipart/form-data; boundary=x', '--x--'],
    ];
    for (const [action, type, body] of attempts) {
      const response = await crossSitePost(`${path}/api/${action}`, type, body);
      expect(response.status, `${action} ${type}`).toBe(415);
      expect(await response.json()).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('JSON') });
    }
    const started = await rp.browser.request(`${path}/api/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ eid: 'test-double' }),
    });
    expect(started.status).toBe(200);
    expect(await started.json()).toMatchObject({ redirectTo: expect.stringContaining('/test-double/decide') });
  });

  it('says what to send to a POST with the JSON type and no body (curl -X POST without -d): {}, not the type it already has', async () => {
    const { path } = await picker();
    const url = new URL(`${path}/api/poll`, tb.issuer);
    const { socket, closed } = await rawConnection(Number(url.port));
    socket.end(
      `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nAccept: application/json\r\nCookie: ${rp.browser.cookieHeader(url)}\r\nConnection: close\r\n\r\n`,
    );
    const answer = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 415 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('{} when there is nothing to send') });
  });
});

describe("another browser's interaction cookies, planted (from a sibling subdomain)", () => {
  it('do not let the person identify in a login begun in that browser, whose return would take the code for them', async () => {
    // Someone begins a login at the client in their browser, and has its interaction cookies planted in the person's.
    const attacker = await RelyingParty.discover(tb.issuer, webClient);
    const decide = new URL((await attacker.authorize({ acr_values: 'urn:test:se' })).response.url);
    expect(decide.pathname).toContain('/test-double/decide');
    const uid = decide.pathname.split('/')[2]!;
    const planted = (path: string) => attacker.browser.cookieHeader(new URL(path, tb.issuer)).split('; ').filter((cookie) => cookie.startsWith('_interaction'));
    expect(planted(decide.pathname)).toHaveLength(2);
    // The person's browser, with its own cookies from an earlier login, is sent to that login's eID page.
    const person = await RelyingParty.discover(tb.issuer, webClient);
    await logIn(person, { acr_values: 'urn:test:se' });
    decide.searchParams.set('person', '0');
    const cookie = [person.browser.cookieHeader(decide), ...planted(decide.pathname)].join('; ');
    const refused = await fetch(decide, { redirect: 'manual', headers: { cookie, accept: 'application/json' } });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'session_expired' });
    // The login was never finished: its return gives the other browser no code.
    const { leftTo } = await attacker.browser.follow(`/auth/${uid}`, { headers: { accept: 'text/html' } });
    expect(leftTo?.searchParams.get('code') ?? null).toBeNull();
  });
});
