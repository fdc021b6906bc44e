import { SignJWT } from 'jose';
import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { webClient, type TestBroker } from '../support/broker.js';
import { TestBrowser } from '../support/browser.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { admin, createClient, startAdminBroker } from './admin-support.js';

/**
 * An authorization request that oidc-provider takes at /auth but would refuse when the login
 * comes back must be refused before the eID asks the person to identify, or, when that can only
 * be known at the end, reach the client as an OIDC error — never a code it should not get, never
 * a dead end. Two eIDs, so that a login stops at the picker first.
 */

let tb: TestBroker;

beforeAll(async () => {
  tb = await startAdminBroker({ clients: [webClient], eids: { 'test-double': {}, 'other-double': { country: 'NO' } } }, 'checks-before-the-eid');
});

/** Where the browser is after `url`: the picker or an eID's page (`page`), or the client (`leftTo`). */
async function open(browser: TestBrowser, url: URL | string) {
  const { response, leftTo } = await browser.follow(url);
  return { page: new URL(response.url), leftTo };
}

/** The person approves at the test double's page: where the browser goes then. */
async function approve(browser: TestBrowser, decidePage: URL) {
  const { leftTo, response } = await browser.follow(`${decidePage.pathname}?person=0`);
  return { leftTo, response };
}

describe('one pushed authorization request (RFC 9126) opened in two tabs', () => {
  it('the first login gets the code; the other, still on the picker, ends at the client with invalid_request_uri when the person picks an eID, before the eID runs', async () => {
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const requestUri = await rp.pushedAuthorizationUrl();
    const first = await open(rp.browser, requestUri);
    const second = await open(rp.browser, requestUri);
    expect(second.page.pathname).toMatch(/^\/interaction\/[^/]+$/);

    const chosen = await rp.browser.submit(`${first.page.pathname}/select`, { eid: 'test-double' });
    const { leftTo: withCode } = await approve(rp.browser, new URL(chosen.response.url));
    expect(withCode?.searchParams.get('code')).toBeTruthy();

    const picked = await rp.browser.submit(`${second.page.pathname}/select`, { eid: 'test-double' });
    expect(picked.response.url).not.toContain('/decide');
    expect(picked.leftTo?.origin + picked.leftTo!.pathname).toBe(rp.redirectUri);
    expect(Object.fromEntries(picked.leftTo!.searchParams)).toMatchObject({ error: 'invalid_request_uri', state: rp.flow.state, iss: tb.issuer });
    expect(picked.leftTo!.searchParams.get('code')).toBeNull();
  });

  it('a frontend starting the eID through the JSON API is answered with the error and the way back to the client', async () => {
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const requestUri = await rp.pushedAuthorizationUrl();
    const first = await open(rp.browser, requestUri);
    const second = await open(rp.browser, requestUri);
    const chosen = await rp.browser.submit(`${first.page.pathname}/select`, { eid: 'test-double' });
    expect((await approve(rp.browser, new URL(chosen.response.url))).leftTo?.searchParams.get('code')).toBeTruthy();

    const started = await rp.browser.request(`${second.page.pathname}/api/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', origin: tb.issuer },
      body: JSON.stringify({ eid: 'test-double' }),
    });
    const answer = (await started.json()) as { status?: string; redirectTo?: string };
    expect(answer.status).toBe('ERROR');
    const { leftTo } = await rp.browser.follow(answer.redirectTo!);
    expect(leftTo?.searchParams.get('error')).toBe('invalid_request_uri');
  });

  it('when both tabs were already at the eID, the later one gets invalid_request_uri at the client, not a second code; the request_uri opened again gets an error page', async () => {
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const requestUri = await rp.pushedAuthorizationUrl();
    const [first, second] = [await open(rp.browser, requestUri), await open(rp.browser, requestUri)];
    const [atFirst, atSecond] = [
      await rp.browser.submit(`${first.page.pathname}/select`, { eid: 'test-double' }),
      await rp.browser.submit(`${second.page.pathname}/select`, { eid: 'test-double' }),
    ];
    expect((await approve(rp.browser, new URL(atFirst.response.url))).leftTo?.searchParams.get('code')).toBeTruthy();
    const { leftTo } = await approve(rp.browser, new URL(atSecond.response.url));
    expect(leftTo?.searchParams.get('error')).toBe('invalid_request_uri');
    expect(leftTo?.searchParams.get('code')).toBeNull();

    rp.browser.headers.set('accept', 'text/html');
    const again = await rp.browser.follow(requestUri);
    expect(again.leftTo).toBeUndefined();
    expect(again.response.status).toBe(400);
    expect(await again.response.text()).toContain('invalid_request_uri');
  });
});

/**
 * A pushed request of `rp` made from a request object (RFC 9101) that expires in `seconds`, which
 * oidc-provider takes as the pushed request's lifetime: its request_uri.
 */
async function shortLivedPushedRequest(rp: RelyingParty, seconds: number): Promise<string> {
  rp.flow = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };
  const request = await new SignJWT({
    client_id: webClient.client_id,
    response_type: 'code',
    redirect_uri: rp.redirectUri,
    scope: 'openid',
    state: rp.flow.state,
    nonce: rp.flow.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(rp.flow.verifier),
    code_challenge_method: 'S256',
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(webClient.client_id)
    .setAudience(tb.issuer)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
    .sign(new TextEncoder().encode(webClient.client_secret));
  const pushed = await fetch(rp.config.serverMetadata().pushed_authorization_request_endpoint!, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${webClient.client_id}:${webClient.client_secret}`)}` },
    body: new URLSearchParams({ client_id: webClient.client_id, request }),
  });
  expect(pushed.status).toBe(201);
  return ((await pushed.json()) as { request_uri: string }).request_uri;
}

describe('a pushed authorization request whose logins outlast it', () => {
  it('gives one code: the login in the other tab, finished after the pushed request expired, gets invalid_request_uri', async () => {
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const requestUri = await shortLivedPushedRequest(rp, 2);
    const authorizeUrl = `/auth?${new URLSearchParams({ client_id: webClient.client_id, request_uri: requestUri })}`;
    const [first, second] = [await open(rp.browser, authorizeUrl), await open(rp.browser, authorizeUrl)];
    const [atFirst, atSecond] = [
      await rp.browser.submit(`${first.page.pathname}/select`, { eid: 'test-double' }),
      await rp.browser.submit(`${second.page.pathname}/select`, { eid: 'test-double' }),
    ];
    // Both people are at the eID when the pushed request's own lifetime ends.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await approve(rp.browser, new URL(atFirst.response.url))).leftTo?.searchParams.get('code')).toBeTruthy();
    const { leftTo } = await approve(rp.browser, new URL(atSecond.response.url));
    expect(leftTo?.searchParams.get('code')).toBeNull();
    expect(leftTo?.searchParams.get('error')).toBe('invalid_request_uri');
  });
});

describe('a redirect_uri the operator removes while the person is logging in', () => {
  // The eID's answer: the person approves (a code), or the eID ends the login (an error and state).
  it.each([
    ['approves', 'person=0'],
    ['is refused by the eID', 'fail=access_denied'],
  ])('gets nothing when the person %s: the login ends on the error page of an unregistered redirect_uri, not at the removed address', async (_, decision) => {
    const kept = 'https://kept.example/callback';
    const removed = 'https://removed.example/callback';
    const created = await createClient(tb.issuer, { redirect_uris: [removed, kept], allowed_eids: ['test-double'] });
    const rp = await RelyingParty.discover(tb.issuer, { ...created, redirect_uris: [removed] });
    rp.browser.headers.set('accept', 'text/html');
    const { page } = await open(rp.browser, await rp.authorizationUrl());
    expect(page.pathname).toContain('/test-double/decide');

    expect((await admin(tb.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { redirect_uris: [kept] })).status).toBe(200);
    const { leftTo, response } = await rp.browser.follow(`${page.pathname}?${decision}`);
    expect(leftTo).toBeUndefined();
    expect(response.status).toBe(400);
    const body = await response.text();
    expect(body).toContain('invalid_redirect_uri');
    expect(body).not.toContain(removed);
  });
});

describe('a logout in another tab while a login runs', () => {
  it('ends the earlier login and leaves the one under way alone: it gets its code', async () => {
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const straightToTheEid = { acr_values: 'urn:test:test-double' };
    const earlier = await rp.redeem(await logIn(rp, straightToTheEid));
    const other = await RelyingParty.discover(tb.issuer, webClient, rp.browser);
    const { page } = await open(rp.browser, await other.authorizationUrl(straightToTheEid));
    const confirmation = await rp.browser.request(client.buildEndSessionUrl(rp.config, { id_token_hint: earlier.id_token!, post_logout_redirect_uri: webClient.post_logout_redirect_uris[0]! }));
    expect((await rp.browser.confirmLogout(await confirmation.text())).leftTo?.href).toBe(webClient.post_logout_redirect_uris[0]);
    const { leftTo } = await approve(rp.browser, page);
    expect((await other.redeem(leftTo!)).claims()?.name).toBe('Tessa Testsson');
  });
});
