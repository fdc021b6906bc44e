import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { findFreePort } from '../support/ports.js';
import { clearOfWindowEnd, LONG_WINDOW } from '../support/rate-windows.js';
import { RelyingParty } from '../support/relying-party.js';

let behindProxy: TestBroker;
let direct: TestBroker;
/** The port of a broker behind a TLS-terminating proxy as in production: an https issuer, the broker itself on plain http. */
let httpsAddress: string;

beforeAll(async () => {
  behindProxy = await startTestBroker({ trust_proxy: 1 }, 'proxy');
  direct = await startTestBroker({}, 'direct');
  const port = await findFreePort();
  httpsAddress = `http://127.0.0.1:${port}`;
  await startTestBroker({ trust_proxy: 1, port, issuer: `https://localhost:${port}` }, 'proxy-https');
});

async function authorizationCookies(tb: TestBroker, headers: Record<string, string>) {
  const rp = await RelyingParty.discover(tb.issuer, webClient);
  const response = await fetch(await rp.authorizationUrl(), { redirect: 'manual', headers });
  return response.headers.getSetCookie();
}

/** An authorization request of webClient, sent to the https broker's own port through the "proxy". */
function authorizationAtHttpsBroker(): string {
  const query = new URLSearchParams({
    client_id: webClient.client_id,
    redirect_uri: webClient.redirect_uris[0]!,
    response_type: 'code',
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  return `${httpsAddress}/auth?${query}`;
}

/** The cookies `response` sets, by name, with their attributes in lower case. */
function setCookies(response: Response): Map<string, string> {
  return new Map(response.headers.getSetCookie().map((cookie) => [cookie.split('=')[0]!, cookie.toLowerCase()]));
}

/** A login of webClient at the https broker up to its eID's start, where the browser gets its id; `planted` is sent as a cookie throughout. */
async function eidStartCookies(planted: string): Promise<Map<string, string>> {
  const started = await fetch(authorizationAtHttpsBroker(), { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } });
  const cookies = [planted, ...started.headers.getSetCookie().map((cookie) => cookie.split(';')[0])].join('; ');
  const picker = await fetch(new URL(started.headers.get('location')!, httpsAddress), { redirect: 'manual', headers: { cookie: cookies, 'x-forwarded-proto': 'https' } });
  return setCookies(picker);
}

describe('behind a trusted proxy', () => {
  it('marks cookies Secure when the issuer is https, whatever X-Forwarded-Proto says', async () => {
    const response = await fetch(authorizationAtHttpsBroker(), { redirect: 'manual', headers: { 'x-forwarded-proto': 'http' } });
    const cookies = response.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie.toLowerCase()).toContain('; secure');
  });

  it('an http issuer gets no Secure cookies, even when the proxy says https', async () => {
    const cookies = await authorizationCookies(behindProxy, { 'x-forwarded-proto': 'https' });
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie.toLowerCase()).not.toContain('; secure');
  });

  it('keeps the traceId a trusted proxy sends', async () => {
    const response = await fetch(`${behindProxy.issuer}/health/live`, { headers: { traceid: '0123456789abcdef' } });
    expect(response.headers.get('traceid')).toBe('0123456789abcdef');
  });
});

describe('trust_proxy: true', () => {
  // nginx ($proxy_add_x_forwarded_for), HAProxy and Apache append the address they saw to the
  // X-Forwarded-For a request arrives with: everything before that last entry is what the sender wrote.
  const throughProxy = (tb: TestBroker, written: string) =>
    fetch(`${tb.issuer}/session/end`, { headers: { accept: 'application/json', 'x-forwarded-for': `${written}, 203.0.113.7` } });

  it('takes the address the proxy saw, not one the sender wrote before it: a new one each time does not step around the limits', async () => {
    const tb = await startTestBroker({ trust_proxy: true, rate_limits: { window_seconds: LONG_WINDOW, logout: { per_ip: 2 } } }, 'proxy-true');
    await clearOfWindowEnd();
    const statuses = [];
    for (let i = 1; i <= 3; i += 1) statuses.push((await throughProxy(tb, `198.51.100.${i}`)).status);
    expect(statuses).toEqual([200, 200, 429]);
    // Another person behind the proxy has an allowance of their own.
    expect((await fetch(`${tb.issuer}/session/end`, { headers: { 'x-forwarded-for': '203.0.113.8' } })).status).toBe(200);
  });

  // Some proxies (Azure Application Gateway) write the address with the port it came from, a new
  // one with each connection: taken as it is, each connection had an allowance of its own.
  it('takes an address the proxy wrote with its port without the port', async () => {
    const tb = await startTestBroker({ trust_proxy: 1, rate_limits: { window_seconds: LONG_WINDOW, logout: { per_ip: 2 } } }, 'proxy-ports');
    await clearOfWindowEnd();
    for (const [first, second, third] of [['203.0.113.7:40001', '203.0.113.7:40002', '203.0.113.7:40003'], ['[2001:db8::7]:40001', '[2001:db8::7]:40002', '[2001:db8::8]:40003']]) {
      const statuses = [];
      for (const address of [first, second, third]) statuses.push((await fetch(`${tb.issuer}/session/end`, { headers: { 'x-forwarded-for': address! } })).status);
      expect(statuses, first).toEqual([200, 200, 429]);
    }
  });
});

describe("the broker's own whole-site cookies over https", () => {
  // A sibling subdomain can set a cookie for the whole domain, but never one named __Host-.
  it('are __Host- cookies: Secure, path /, no Domain; one planted under the plain name is not read', async () => {
    const planted = 'neb_browser=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const cookies = await eidStartCookies(planted);
    const browser = cookies.get('__Host-neb_browser');
    expect(browser, [...cookies.keys()].join(', ')).toBeDefined();
    expect(browser).toContain('; secure');
    expect(browser).toContain('; path=/;');
    expect(browser).not.toContain('domain=');
    expect(browser).not.toContain('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(cookies.has('neb_browser')).toBe(false);
    // The login this browser is in, read by the page of an eID's answer at /eid/<id>/callback too.
    expect(cookies.get('__Host-neb_last_login')).toContain('; path=/;');
    expect(cookies.has('neb_last_login')).toBe(false);
    const language = setCookies(await fetch(`${httpsAddress}/session/end?lang=sv`, { headers: { 'x-forwarded-proto': 'https' } }));
    expect(language.get('__Host-neb_lang')).toContain('; secure');
    expect(language.has('neb_lang')).toBe(false);
  });

  // oidc-provider's session cookie is for the whole site as well (path /): planted from a sibling
  // subdomain it made another browser's session this one's, and one planted beside a login in
  // progress ended that login with an error at its return (a session not the login's).
  it("oidc-provider's session cookie is one too, and a session planted under its plain name is not taken", async () => {
    const answer = await fetch(`${httpsAddress}/session/end`, { headers: { 'x-forwarded-proto': 'https' } });
    const first = setCookies(answer);
    const session = first.get('__Host-session');
    expect(session, [...first.keys()].join(', ')).toBeDefined();
    expect(session).toContain('; secure');
    expect(session).toContain('; path=/;');
    expect(session).not.toContain('domain=');
    expect(first.has('_session')).toBe(false);
    const sent = answer.headers.getSetCookie().join('\n');
    const id = /^__Host-session=([^;]+)/m.exec(sent)![1]!;
    const signature = /^__Host-session\.sig=([^;]+)/m.exec(sent)![1]!;
    // What a sibling subdomain can set: the same session under the plain name, which a browser sends beside nothing else.
    const planted = setCookies(await fetch(`${httpsAddress}/session/end`, { headers: { 'x-forwarded-proto': 'https', cookie: `_session=${id}; _session.sig=${signature}` } }));
    expect(planted.get('__Host-session')).toBeDefined();
    expect(planted.get('__Host-session')).not.toContain(id.toLowerCase());
  });
});

describe('without trust_proxy', () => {
  it('ignores X-Forwarded-Proto', async () => {
    const cookies = await authorizationCookies(direct, { 'x-forwarded-proto': 'https' });
    for (const cookie of cookies) expect(cookie.toLowerCase()).not.toContain('; secure');
  });

  it('makes its own traceId, whatever the request claims', async () => {
    const response = await fetch(`${direct.issuer}/health/live`, { headers: { traceid: '0123456789abcdef' } });
    expect(response.headers.get('traceid')).not.toBe('0123456789abcdef');
  });
});
