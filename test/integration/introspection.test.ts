import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

const otherClient = {
  client_id: 'other-app',
  client_secret: 'the-other-apps-secret-that-is-long-enough-for-it',
  redirect_uris: ['https://other.example/callback'],
};
const resourceServer = {
  client_id: 'api',
  client_secret: 'the-resource-servers-secret-that-is-long-enough',
  redirect_uris: ['https://api.example/callback'],
  resource_server: true,
};

let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  tb = await startTestBroker({ clients: [webClient, otherClient, resourceServer], registration: { enabled: true, initial_access_token: false, management: true } }, 'introspection');
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

const introspect = async (caller: { client_id: string; client_secret: string }, token: string) =>
  (await tokenRequest(tb.issuer, caller, { token }, '/token/introspection')).body;

describe('introspection', () => {
  it("tells another client nothing about a token: {active: false}, as for one that does not exist", async () => {
    const tokens = await rp.redeem(await logIn(rp));
    expect(await introspect(otherClient, tokens.access_token)).toEqual({ active: false });
    expect(await introspect(webClient, tokens.access_token)).toMatchObject({ active: true, client_id: webClient.client_id, sub: tokens.claims()!.sub });
  });

  it('answers a resource server the operator named, for any client\'s token', async () => {
    const tokens = await rp.redeem(await logIn(rp));
    expect(await introspect(resourceServer, tokens.access_token)).toMatchObject({ active: true, client_id: webClient.client_id, sub: tokens.claims()!.sub });
  });

  // A deleted client is gone at once: its tokens are refused everywhere, and a resource server
  // asking about one was answered a 500 (oidc-provider read the gone client's subject type).
  it("answers a resource server {active: false} for a token of a client deleted since", async () => {
    const registered = await fetch(`${tb.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://gone.example/callback'] }),
    });
    const gone = (await registered.json()) as { client_id: string; client_secret: string; registration_access_token: string; registration_client_uri: string };
    const goneRp = await RelyingParty.discover(tb.issuer, { ...gone, redirect_uris: ['https://gone.example/callback'] });
    const tokens = await goneRp.redeem(await logIn(goneRp));
    expect(await introspect(resourceServer, tokens.access_token)).toMatchObject({ active: true, client_id: gone.client_id });
    const deleted = await fetch(gone.registration_client_uri, { method: 'DELETE', headers: { authorization: `Bearer ${gone.registration_access_token}` } });
    expect(deleted.status).toBe(204);
    const answer = await tokenRequest(tb.issuer, resourceServer, { token: tokens.access_token }, '/token/introspection');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ active: false });
  });

  it.each(['resource_server', 'refresh_tokens_without_consent'])('a client cannot give itself %s by registering', async (field) => {
    const response = await fetch(`${tb.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://self.example/callback'], [field]: true }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_client_metadata', error_description: expect.stringContaining(field) });
  });
});

describe('revocation', () => {
  it("by another client revokes nothing", async () => {
    const tokens = await rp.redeem(await logIn(rp));
    const { status } = await tokenRequest(tb.issuer, otherClient, { token: tokens.access_token }, '/token/revocation');
    expect(status).toBe(200);
    expect(await client.tokenIntrospection(rp.config, tokens.access_token)).toMatchObject({ active: true });
  });
});

/**
 * Open registration (this broker's): a client anyone registered, at an address of its choosing,
 * must not have the broker send a person on there by itself with an error it asked for on
 * purpose (an open redirect, RFC 9700 §4.11.2). Clients registered with a token: registration.test.ts.
 */
describe('a client anyone registered (open registration)', () => {
  interface Registered {
    client_id: string;
    registration_access_token: string;
    registration_client_uri: string;
    registered_openly?: boolean;
  }

  /** A host that needs escaping in a page, as URL takes it. */
  const host = 'a&b"c.example';
  const redirectUri = `https://${host}/cb`;

  async function call(url: string, method: string, body: unknown, token?: string) {
    const response = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function registerOpenly(): Promise<Registered> {
    const answer = await call(`${tb.issuer}/reg`, 'POST', { redirect_uris: [redirectUri] });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return answer.body as unknown as Registered;
  }

  /** An authorization request that fails at once (the broker never logs in silently): login_required. */
  const failing = (clientId: string, mode: string, path = '/auth', redirect_uri = redirectUri) =>
    `${tb.issuer}${path}?${new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri, state: 'st&te', prompt: 'none', response_mode: mode, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`;

  const unescape = (html: string) => html.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

  it('is marked by the broker, and its error stops at a page of the broker naming the host, whose Continue carries the answer exactly (query, fragment)', async () => {
    const registered = await registerOpenly();
    expect(registered.registered_openly).toBe(true);
    for (const [mode, part] of [['query', 'search'], ['fragment', 'hash']] as const) {
      const response = await fetch(failing(registered.client_id, mode), { redirect: 'manual', headers: { accept: 'text/html', 'accept-language': 'sv' } });
      expect(response.status, mode).toBe(400);
      expect(response.headers.get('location'), mode).toBeNull();
      expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
      const page = await response.text();
      expect(page).toContain('Fortsätt till a&amp;b&quot;c.example');
      expect(page).not.toContain(host);
      expect(page).not.toContain('<script');
      // The support reference, as on the broker's other pages.
      expect(page).toMatch(/<dd><code>[0-9a-f]{16,}<\/code><\/dd>/);
      const href = new URL(unescape(/<a class="button" href="([^"]*)" id="leave">/.exec(page)![1]!));
      expect(`${href.origin}${href.pathname}`).toBe(new URL(redirectUri).href);
      expect(Object.fromEntries(new URLSearchParams(href[part].slice(1)))).toEqual({
        error: 'login_required',
        error_description: expect.any(String),
        state: 'st&te',
        iss: tb.issuer,
      });
    }
  });

  it("stops at the page at /auth in any spelling oidc-provider takes it in (/AUTH, /Auth/, /auth/), never going on to the redirect_uri", async () => {
    const registered = await registerOpenly();
    for (const path of ['/AUTH', '/Auth/', '/auth/']) {
      const response = await fetch(failing(registered.client_id, 'query', path), { redirect: 'manual', headers: { accept: 'text/html' } });
      expect(response.headers.get('location'), path).toBeNull();
      expect(response.status, path).toBe(400);
      expect(await response.text(), path).toContain('Continue to a&amp;b&quot;c.example');
    }
  });

  it("names a native app's private-use scheme, not the host written after it, which is not where the link leads", async () => {
    const appUri = 'com.example.app://bank.example/cb';
    const answer = await call(`${tb.issuer}/reg`, 'POST', { application_type: 'native', redirect_uris: [appUri] });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    const response = await fetch(failing(answer.body.client_id as string, 'query', '/auth', appUri), { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    const page = await response.text();
    expect(page).toContain('Continue to com.example.app');
    expect(page).not.toContain('Continue to bank.example');
  });

  it('sends no one on to its post_logout_redirect_uri unasked: a logout with no login stops at the logged-out page naming the host, whose Continue carries the redirect exactly', async () => {
    const postLogoutUri = `https://${host}/bye`;
    const registered = await call(`${tb.issuer}/reg`, 'POST', { redirect_uris: [redirectUri], post_logout_redirect_uris: [postLogoutUri], client_name: 'Shop <b>' });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const browser = new TestBrowser(tb.issuer);
    browser.headers.set('accept-language', 'sv');
    const { leftTo, response } = await browser.logOutUnasked({ client_id: registered.body.client_id as string, post_logout_redirect_uri: postLogoutUri, state: 'st&te' });
    expect(leftTo).toBeUndefined();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    const page = await response.text();
    expect(page).toContain('Du har loggat ut.');
    expect(page).toContain('Fortsätt till a&amp;b&quot;c.example');
    expect(page).not.toContain(host);
    expect(page).not.toContain('<script');
    expect(unescape(/<a class="button" href="([^"]*)" id="leave">/.exec(page)![1]!)).toBe(`https://${host}/bye?state=st%26te`);
    // A browser with a login is asked on the broker's logout page, and goes on as the person answered.
    const client_id = registered.body.client_id as string;
    const loggedIn = await RelyingParty.discover(tb.issuer, { client_id, client_secret: registered.body.client_secret as string, redirect_uris: [redirectUri] });
    await logIn(loggedIn);
    const asked = await loggedIn.browser.follow(`/session/end?${new URLSearchParams({ client_id, post_logout_redirect_uri: postLogoutUri, state: 'st', ui_locales: 'en' })}`, { headers: { accept: 'text/html' } });
    const question = await asked.response.text();
    // Asked knowing who asks (by the name it gave itself and where it leads), where either answer
    // leads, and that anyone could have registered it.
    expect(question).toContain('Shop &lt;b&gt; (a&amp;b&quot;c.example) asks to log you out.');
    expect(question).toContain('Whichever button you choose, you then go on to a&amp;b&quot;c.example.');
    expect(question).toContain('Anyone can connect a service to this login');
    expect(question).not.toContain('<b>');
    expect((await loggedIn.browser.confirmLogout(question)).leftTo?.href).toBe(`https://${host}/bye?state=st`);
    // A client the operator configured is sent on as ever.
    const configured = await new TestBrowser(tb.issuer).logOutUnasked({ client_id: webClient.client_id, post_logout_redirect_uri: webClient.post_logout_redirect_uris[0]!, state: 'st' });
    expect(configured.leftTo?.href).toBe(`${webClient.post_logout_redirect_uris[0]}?state=st`);
  });

  it('cannot give itself the mark, nor change or drop it by updating its registration (RFC 7592)', async () => {
    for (const asked of [true, false]) {
      const refused = await call(`${tb.issuer}/reg`, 'POST', { redirect_uris: [redirectUri], registered_openly: asked });
      expect(refused).toEqual({ status: 400, body: { error: 'invalid_client_metadata', error_description: expect.stringMatching(/^registered_openly: is set by the broker/) } });
    }
    const registered = await registerOpenly();
    const update = (body: Record<string, unknown>, token: string) => call(registered.registration_client_uri, 'PUT', { client_id: registered.client_id, redirect_uris: [redirectUri], ...body }, token);
    const dropped = await update({ registered_openly: false }, registered.registration_access_token);
    expect(dropped).toEqual({ status: 400, body: { error: 'invalid_client_metadata', error_description: expect.stringMatching(/^registered_openly: /) } });
    // Left out, or sent back as it was read (RFC 7592 §2.2), it stays.
    const leftOut = await update({ client_name: 'Updated' }, registered.registration_access_token);
    expect(leftOut.status, JSON.stringify(leftOut.body)).toBe(200);
    expect(leftOut.body.registered_openly).toBe(true);
    const repeated = await update({ registered_openly: true }, leftOut.body.registration_access_token as string);
    expect(repeated.status, JSON.stringify(repeated.body)).toBe(200);
    expect((await fetch(failing(registered.client_id, 'query'), { redirect: 'manual' })).status).toBe(400);
  });
});
