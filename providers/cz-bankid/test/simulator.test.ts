import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCzechBankIdSimulator, type CzechBankIdSimulator } from '../simulator/server.js';
import { simulatedBanks } from '../simulator/people.js';

const CLIENT = { client_id: 'a1b2c3d4-1111-4222-8333-944445555666', client_secret: 'the-secret-of-the-test-client', redirect_uri: 'http://127.0.0.1:1/callback' };
const [BANK, BROKEN_BANK] = [simulatedBanks[0]!, simulatedBanks[2]!];

let simulator: CzechBankIdSimulator;
let configuration: oidc.Configuration;

beforeAll(async () => {
  simulator = await startCzechBankIdSimulator({ ...CLIENT, scopes: ['openid', 'profile.name', 'profile.birthnumber', 'profile.addresses', 'profile.verification'] });
  configuration = await oidc.discovery(new URL(simulator.issuer), CLIENT.client_id, { id_token_signed_response_alg: 'PS512' }, oidc.ClientSecretPost(CLIENT.client_secret), {
    execute: [oidc.allowInsecureRequests],
  });
});
afterAll(() => simulator.close());

/** An authorization request as a relying party sends it, and what it has to keep. */
async function authorization(overrides: Record<string, string | null> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const params: Record<string, string> = {
    redirect_uri: CLIENT.redirect_uri,
    scope: 'openid profile.name profile.birthnumber',
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    acr_values: 'loa3',
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === null) delete params[name];
    else params[name] = value;
  }
  const url = oidc.buildAuthorizationUrl(configuration, params);
  // A test that left state or nonce out finds them undefined here.
  return { url, verifier, state: params.state!, nonce: params.nonce! };
}

/** The person's decision on the page; returns the redirect back to the client. */
async function decide(page: Response, choice: { person: string; bank?: string; decision?: 'approve' | 'decline' }): Promise<URL> {
  const html = await page.text();
  const request = /name="request" value="([^"]+)"/.exec(html)![1]!;
  const response = await fetch(new URL('/auth/decision', simulator.issuer), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ request, bank: choice.bank ?? BANK.id, person: choice.person, decision: choice.decision ?? 'approve' }),
  });
  expect(response.status).toBe(302);
  return new URL(response.headers.get('location')!);
}

async function codeFor(person: string, overrides: Record<string, string | null> = {}) {
  const auth = await authorization(overrides);
  const callback = await decide(await fetch(auth.url), { person });
  return { auth, callback };
}

describe('the simulated Bank iD', () => {
  it('logs a relying party in (openid-client): a PS512 ID token, then /profile with the birth number', async () => {
    const { auth, callback } = await codeFor('cz-petra', { scope: 'openid profile.name profile.birthnumber profile.addresses profile.verification' });
    const tokens = await oidc.authorizationCodeGrant(configuration, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: simulator.issuer, aud: CLIENT.client_id, acr: 'loa3', nonce: auth.nonce });
    expect(claims.sub).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(claims.exp - claims.iat).toBe(600);

    const response = await oidc.fetchProtectedResource(configuration, tokens.access_token, new URL('profile', simulator.issuer), 'GET');
    expect(response.headers.get('traceId')).toMatch(/^[a-zA-Z0-9]{16}$/);
    const profile = (await response.json()) as Record<string, unknown>;
    expect(profile).toMatchObject({ sub: claims.sub, given_name: 'Petra', family_name: 'Dvořáková', birthnumber: '9053024563' });
    expect(profile.addresses).toEqual([expect.objectContaining({ city: 'Brno', zipcode: '60200', country: 'CZ' })]);
    expect(profile.verified_claims).toMatchObject({ verification: { trust_framework: 'cz_aml', verification_process: BANK.cnbCode }, claims: { birthnumber: '9053024563' } });
    // Only what the scopes grant: no birthdate, gender or e-mail.
    expect(profile).not.toHaveProperty('birthdate');
    expect(profile).not.toHaveProperty('email');
  });

  it('serves /profile and /userinfo only for a Bearer access token in the header', async () => {
    const { auth, callback } = await codeFor('cz-jan');
    const tokens = await oidc.authorizationCodeGrant(configuration, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce });
    for (const path of ['profile', 'userinfo']) {
      const none = await fetch(new URL(path, simulator.issuer));
      expect(none.status).toBe(401);
      expect(await none.json()).toMatchObject({ error: 'UNAUTHORIZED' });
      const inQuery = await fetch(new URL(`${path}?access_token=${tokens.access_token}`, simulator.issuer));
      expect(inQuery.status).toBe(401);
      const wrong = await fetch(new URL(path, simulator.issuer), { headers: { authorization: 'Bearer not-a-token' } });
      expect(wrong.status).toBe(401);
    }
    const userinfo = await oidc.fetchUserInfo(configuration, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo).toMatchObject({ given_name: 'Jan', family_name: 'Novák' });
    expect(userinfo).not.toHaveProperty('birthnumber');
  });

  it('redeems a code once, for its client, redirect_uri and PKCE verifier only', async () => {
    const token = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(new URL('token', simulator.issuer), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body) });
    const redeem = (code: string, verifier: string, more: Record<string, string> = {}) =>
      token({ grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirect_uri, code_verifier: verifier, client_id: CLIENT.client_id, client_secret: CLIENT.client_secret, ...more });

    const first = await codeFor('cz-jan');
    const code = first.callback.searchParams.get('code')!;
    expect((await (await redeem(code, 'a-verifier-that-is-not-the-one-sent-at-all-0123')).json()) as object).toMatchObject({ error: 'invalid_grant' });
    // A failed attempt spends the code as well.
    expect((await redeem(code, first.auth.verifier)).status).toBe(400);

    const second = await codeFor('cz-jan');
    const secondCode = second.callback.searchParams.get('code')!;
    expect((await (await redeem(secondCode, second.auth.verifier, { redirect_uri: 'http://127.0.0.1:1/other' })).json()) as object).toMatchObject({ error: 'invalid_grant' });

    const third = await codeFor('cz-jan');
    const thirdCode = third.callback.searchParams.get('code')!;
    const basic = Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64');
    const withBasic = await token({ grant_type: 'authorization_code', code: thirdCode, redirect_uri: CLIENT.redirect_uri, code_verifier: third.auth.verifier }, { authorization: `Basic ${basic}` });
    expect(withBasic.status).toBe(401);
    expect((await redeem(thirdCode, third.auth.verifier, { client_secret: 'wrong' })).status).toBe(401);
    const json = await fetch(new URL('token', simulator.issuer), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: thirdCode }) });
    expect(json.status).toBe(415);
    expect(json.headers.get('cache-control')).toBe('no-store');

    const fourth = await codeFor('cz-jan');
    const good = await redeem(fourth.callback.searchParams.get('code')!, fourth.auth.verifier);
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
  });

  it('refuses an unknown client or redirect_uri with 400 JSON, never a redirect', async () => {
    const unknownClient = new URL((await authorization()).url);
    unknownClient.searchParams.set('client_id', 'someone-else');
    const refused = await fetch(unknownClient, { redirect: 'manual' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_client_metadata' });

    const otherRedirect = await fetch((await authorization({ redirect_uri: `${CLIENT.redirect_uri}/` })).url, { redirect: 'manual' });
    expect(otherRedirect.status).toBe(400);
    expect(await otherRedirect.json()).toMatchObject({ error: 'invalid_redirect_uri' });
  });

  it.each([
    [{ state: null }, 'invalid_request'],
    [{ nonce: null }, 'invalid_request'],
    [{ code_challenge: null, code_challenge_method: null }, 'invalid_request'],
    [{ code_challenge_method: 'plain' }, 'invalid_request'],
    [{ scope: 'profile.name' }, 'invalid_scope'],
    [{ scope: 'openid profile.email' }, 'invalid_scope'],
    [{ acr_values: 'loa2' }, 'invalid_request'],
    [{ prompt: 'none login' }, 'invalid_request'],
    [{ prompt: 'none' }, 'login_required'],
    [{ response_mode: 'fragment' }, 'invalid_request'],
    [{ trace_id: 'too-short' }, 'invalid_request'],
  ] as Array<[Record<string, string | null>, string]>)('sends an error to the redirect_uri for %j: %s', async (overrides, error) => {
    const auth = await authorization(overrides);
    const response = await fetch(auth.url, { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(CLIENT.redirect_uri);
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('state')).toBe('state' in overrides ? null : auth.state);
  });

  it.each([
    [{ person: 'cz-jan', decision: 'decline' as const }, 'access_denied'],
    [{ person: 'cz-inactive' }, 'eid_doesnt_exist'],
    [{ person: 'cz-not-eligible' }, 'user_not_eligible'],
    [{ person: 'cz-jan', bank: BROKEN_BANK.id }, 'server_error'],
  ])('ends a login with an error callback: %j → %s', async (choice, error) => {
    const auth = await authorization();
    const callback = await decide(await fetch(auth.url), choice);
    expect(callback.searchParams.get('error')).toBe(error);
    expect(callback.searchParams.get('state')).toBe(auth.state);
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('shows the bank chooser in Czech for ui_locales=cs, with the bank_id asked for chosen', async () => {
    const auth = await authorization({ ui_locales: 'cs', bank_id: simulatedBanks[1]!.id });
    const html = await (await fetch(auth.url)).text();
    expect(html).toContain('lang="cs"');
    expect(html).toContain(`<option value="${simulatedBanks[1]!.id}" selected>`);
    expect(html).not.toContain('<script');
  });

  it('puts a traceId on every answer, and answers 503 while down', async () => {
    const discovery = await fetch(new URL('.well-known/openid-configuration', simulator.issuer));
    expect(discovery.headers.get('traceId')).toMatch(/^[a-zA-Z0-9]{16}$/);
    expect(((await discovery.json()) as { issuer: string }).issuer).toBe(simulator.issuer);
    simulator.faults.unavailable = true;
    try {
      const down = await fetch(new URL('.well-known/jwks', simulator.issuer));
      expect(down.status).toBe(503);
      expect(down.headers.get('traceId')).toMatch(/^[a-zA-Z0-9]{16}$/);
    } finally {
      simulator.faults.unavailable = false;
    }
  });
});
