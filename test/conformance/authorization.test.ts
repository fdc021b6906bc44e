import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConformanceRp, startConformanceBed, type ConformanceBed } from '../support/conformance.js';

/**
 * The authorization endpoint as the OpenID Foundation's Basic OP and Form Post OP plans check it
 * (OpenID Connect Core 1.0 §3.1, RFC 9207), with openid-client as the relying party and a login
 * through the Swedish BankID simulator.
 */

let bed: ConformanceBed;
let rp: ConformanceRp;

beforeAll(async () => {
  bed = await startConformanceBed('conformance-authorization');
  rp = await ConformanceRp.discover(bed, 'basic');
});

/** Every printable ASCII character but the space, as the suite's 128-character state has them. */
const PRINTABLE_STATE = Array.from({ length: 128 }, (_, i) => String.fromCharCode(0x21 + (i % 94))).join('');

/** RFC 6749 §4.1.2.1 and §5.2: the characters an error_description may hold. */
const ERROR_DESCRIPTION = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

/** The answer in a redirect's query or fragment. */
function answerIn(url: URL): URLSearchParams {
  return url.hash ? new URLSearchParams(url.hash.slice(1)) : url.searchParams;
}

/** An error the broker sent to the client's redirect_uri: the error, with state unchanged and iss (RFC 9207). */
function expectErrorAtClient(leftTo: URL | undefined, error: string, where: 'query' | 'fragment' = 'query') {
  expect(leftTo?.origin + leftTo!.pathname).toBe(rp.redirectUri);
  expect(where === 'fragment' ? leftTo!.search : leftTo!.hash).toBe('');
  const answer = answerIn(leftTo!);
  expect(answer.get('error')).toBe(error);
  expect(answer.get('state')).toBe(rp.flow.state);
  expect(answer.get('iss')).toBe(bed.tb.issuer);
  expect(answer.get('code')).toBeNull();
  expect(answer.get('error_description') ?? '').toMatch(ERROR_DESCRIPTION);
  return answer;
}

/** The fields of the form the broker's form-post page posts to the client. */
function formPosted(page: string): { action: string; fields: Record<string, string> } {
  const form = /<form method="post" action="([^"]+)" id="form-post">([\s\S]*?)<\/form>/.exec(page);
  if (!form) throw new Error(`not the form-post page: ${page.slice(0, 200)}`);
  const unescape = (text: string) => text.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
  const fields = Object.fromEntries([...form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(([, name, value]) => [name!, unescape(value!)]));
  return { action: unescape(form[1]!), fields };
}

describe('a successful authorization response', () => {
  it('in the query: code, state unchanged (128 printable characters) and iss; the ID token echoes nonce and has auth_time, acr and amr', async () => {
    const acr = 'urn:nordic-eid:se:bankid:other-device';
    const callback = await rp.logIn({ state: PRINTABLE_STATE, acr_values: acr, max_age: '15000' });
    expect([...callback.searchParams.keys()].sort()).toEqual(['code', 'iss', 'state']);
    expect(callback.searchParams.get('state')).toBe(PRINTABLE_STATE);
    // openid-client checks iss against the issuer (RFC 9207), state, nonce and the ID token's signature.
    const tokens = await rp.redeem(callback);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: bed.tb.issuer, aud: 'basic', nonce: rp.flow.nonce, acr, amr: expect.any(Array) });
    expect(rp.metadata.acr_values_supported).toContain(claims.acr);
    expect(claims.auth_time).toEqual(expect.any(Number));
    expect(claims.auth_time).toBeLessThanOrEqual(claims.iat);
    // The code flow's token endpoint need not send at_hash, and c_hash belongs to the hybrid flow.
    expect(claims).not.toHaveProperty('c_hash');
    expect(claims).not.toHaveProperty('at_hash');
  });

  it("a state of 4096 characters comes back unchanged (an ASP.NET Core app's protected state, with its return URL, behind an identity hub runs past 1024)", async () => {
    // Base64url, as ASP.NET Core's protected state is; printable ASCII this long would not fit in a URL once encoded.
    const longState = `CfDJ8${randomBytes(3072).toString('base64url')}`.slice(0, 4096);
    expect(longState).toHaveLength(4096);
    const callback = await rp.logIn({ state: longState });
    expect(callback.searchParams.get('state')).toBe(longState);
    await rp.redeem(callback);
  });

  it('without nonce: the ID token has none', async () => {
    const tokens = await rp.redeem(await rp.logIn({ nonce: undefined }));
    expect(tokens.claims()).not.toHaveProperty('nonce');
  });

  it('in the fragment (response_mode=fragment, listed in discovery): code, state and iss', async () => {
    expect(rp.metadata.response_modes_supported).toContain('fragment');
    const callback = await rp.logIn({ response_mode: 'fragment' });
    expect(callback.search).toBe('');
    const answer = answerIn(callback);
    expect(answer.get('state')).toBe(rp.flow.state);
    expect(answer.get('iss')).toBe(bed.tb.issuer);
    // The relying party's page reads the fragment and hands the answer to its backend as a query.
    const tokens = await rp.redeem(new URL(`${rp.redirectUri}?${answer}`));
    expect(tokens.claims()!.nonce).toBe(rp.flow.nonce);
  });

  it('as a form post (response_mode=form_post): a page that posts code, state and iss to the redirect_uri, nothing in its URL', async () => {
    expect(rp.metadata.response_modes_supported).toContain('form_post');
    const { response } = await rp.authorize({ response_mode: 'form_post', state: PRINTABLE_STATE });
    const back = await rp.logInFrom(response);
    expect(back.leftTo).toBeUndefined();
    const { action, fields } = formPosted(await back.response.text());
    expect(action).toBe(rp.redirectUri);
    expect(Object.keys(fields).sort()).toEqual(['code', 'iss', 'state']);
    expect(fields).toMatchObject({ state: PRINTABLE_STATE, iss: bed.tb.issuer });
    const posted = new Request(rp.redirectUri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
    expect((await rp.redeem(posted)).claims()!.nonce).toBe(rp.flow.nonce);
  });

  it.each(['jwt', 'query.jwt', 'fragment.jwt', 'form_post.jwt', 'web_message'])('response_mode=%s, not listed in discovery, is refused with unsupported_response_mode', async (mode) => {
    expect(rp.metadata.response_modes_supported).not.toContain(mode);
    const { leftTo } = await rp.authorize({ response_mode: mode });
    expectErrorAtClient(leftTo, 'unsupported_response_mode');
  });
});

describe('prompt', () => {
  it('prompt=none without a session: login_required at the redirect_uri, in the query and as a form post', async () => {
    const { leftTo } = await rp.authorize({ prompt: 'none' });
    expectErrorAtClient(leftTo, 'login_required');

    const { response } = await rp.authorize({ prompt: 'none', response_mode: 'form_post' });
    const { action, fields } = formPosted(await response.text());
    expect(action).toBe(rp.redirectUri);
    expect(fields).toMatchObject({ error: 'login_required', state: rp.flow.state, iss: bed.tb.issuer });
    expect(fields).not.toHaveProperty('code');
  });

  it('prompt=none right after a login in the same browser: login_required too (no login is reused; never consent_required, there is no consent screen)', async () => {
    await rp.logIn();
    const { leftTo } = await rp.authorize({ prompt: 'none' });
    expectErrorAtClient(leftTo, 'login_required');
  });

  it('prompt=none with another value is refused with invalid_request', async () => {
    const { leftTo } = await rp.authorize({ prompt: 'none login' });
    expectErrorAtClient(leftTo, 'invalid_request');
  });

  it('prompt=login and max_age=0 run BankID again: a later auth_time', async () => {
    const first = (await rp.tokens({ prompt: 'login' })).claims()!;
    const { response, leftTo } = await rp.authorize({ prompt: 'login', max_age: '0' });
    expect(leftTo).toBeUndefined();
    expect(new URL(response.url).pathname).toMatch(/\/se-bankid\/$/);
    const second = (await rp.redeem((await rp.logInFrom(response)).leftTo!)).claims()!;
    expect(second.auth_time).toBeGreaterThan(first.auth_time as number);
  });
});

describe('id_token_hint at the authorization endpoint', () => {
  it("another client's ID token, or one altered, is refused with invalid_request; with prompt=none the person is not logged in: login_required", async () => {
    const idToken = (await rp.tokens()).id_token!;
    const other = await ConformanceRp.discover(bed, 'post');
    const answers = [
      { by: other, hint: idToken, error: 'invalid_request' },
      { by: rp, hint: `${idToken.slice(0, -6)}AAAAAA`, error: 'invalid_request' },
      { by: rp, hint: idToken, prompt: 'none', error: 'login_required' },
    ];
    for (const { by, hint, prompt, error } of answers) {
      const { leftTo } = await by.authorize({ id_token_hint: hint, ...(prompt ? { prompt } : {}) });
      expect(answerIn(leftTo!).get('error')).toBe(error);
      expect(answerIn(leftTo!).get('iss')).toBe(bed.tb.issuer);
    }
  });
});

describe('locales', () => {
  it('ui_locales: the first listed language the pages have (unknown ones such as se are skipped); claims_locales is taken', async () => {
    const { response } = await rp.authorize({ ui_locales: 'se fi sv', claims_locales: 'se fi' });
    expect(new URL(response.url).pathname).toMatch(/\/se-bankid\/$/);
    expect(await response.text()).toMatch(/<html lang="fi">/);
  });
});

describe('the claims parameter', () => {
  it('puts each claim where it was asked for: in the ID token or at userinfo, essential or not', async () => {
    const claimsRequest = {
      userinfo: { given_name: { essential: true }, personal_number: null },
      id_token: { birthdate: null, acr: { essential: true }, auth_time: { essential: true } },
    };
    const tokens = await rp.tokens({ scope: 'openid', claims: JSON.stringify(claimsRequest) });
    const idToken = tokens.claims()!;
    expect(idToken).toMatchObject({ birthdate: expect.any(String), acr: expect.any(String), auth_time: expect.any(Number) });
    expect(idToken).not.toHaveProperty('given_name');
    expect(idToken).not.toHaveProperty('personal_number');
    const userinfo = await client.fetchUserInfo(rp.config, tokens.access_token, idToken.sub);
    expect(userinfo).toMatchObject({ sub: idToken.sub, given_name: expect.any(String), personal_number: expect.any(String) });
    expect(userinfo).not.toHaveProperty('birthdate');
  });
});

describe('requests the broker refuses', () => {
  it('a redirect_uri not registered, or none, gets an error page and no redirect', async () => {
    for (const redirect_uri of ['https://evil.example/callback', undefined]) {
      const { response, leftTo } = await rp.authorize({ redirect_uri });
      expect(leftTo).toBeUndefined();
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).not.toContain('evil.example');
    }
  });

  it.each([
    ['token', 'fragment'],
    ['id_token', 'fragment'],
    ['id_token token', 'fragment'],
    ['code id_token', 'fragment'],
    ['code token', 'fragment'],
    ['code id_token token', 'fragment'],
    ['none', 'query'],
  ] as const)('response_type=%s (discovery lists code only): unsupported_response_type at the redirect_uri, in the %s', async (responseType, where) => {
    expect(rp.metadata.response_types_supported).toEqual(['code']);
    const { leftTo } = await rp.authorize({ response_type: responseType });
    expectErrorAtClient(leftTo, 'unsupported_response_type', where);
  });

  it('no response_type: invalid_request at the redirect_uri', async () => {
    const url = await rp.authorizationUrl();
    url.searchParams.delete('response_type');
    const { leftTo } = await rp.browser.follow(url);
    expectErrorAtClient(leftTo, 'invalid_request');
  });

  it('request and request_uri together: invalid_request; a request_uri by reference (request_uri_parameter_supported false): request_uri_not_supported', async () => {
    expect(rp.metadata.request_uri_parameter_supported).toBe(false);
    const both = await rp.authorize({ request: 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln', request_uri: 'https://rp.example/request.jwt' });
    expectErrorAtClient(both.leftTo, 'invalid_request');
    const byReference = await rp.authorize({ request_uri: 'https://rp.example/request.jwt' });
    expectErrorAtClient(byReference.leftTo, 'request_uri_not_supported');
  });

  it('a scope without openid is an OAuth 2.0 request: with a nonce it is refused; without, the code gives an access token, no ID token, and userinfo refuses it', async () => {
    const withNonce = await rp.authorize({ scope: 'profile' });
    expectErrorAtClient(withNonce.leftTo, 'invalid_request');

    const callback = await rp.logIn({ scope: 'profile', nonce: undefined });
    const tokens = await rp.redeem(callback, { idTokenExpected: false });
    expect(tokens.id_token).toBeUndefined();
    expect(tokens.scope).toBe('profile');
    const userinfo = await fetch(rp.metadata.userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(403);
    expect(userinfo.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
  });

  it('an error_description that names what the client sent keeps to the characters RFC 6749 allows there', async () => {
    const { leftTo } = await rp.authorize({ acr_values: 'urn:nope:"quoted"\\back-slashed\\åäö' });
    const answer = expectErrorAtClient(leftTo, 'invalid_request');
    expect(answer.get('error_description')).toContain('urn:nope:');
  });
});
