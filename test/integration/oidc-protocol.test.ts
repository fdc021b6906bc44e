import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser.js';
import { publicClient, startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { expectWrongMethodRefused, tokenRequest } from '../support/http.js';
import { codeRedemption, logIn, RelyingParty } from '../support/relying-party.js';
import { PUBLISHED_DOCUMENT_MAX_AGE_SECONDS } from '../../src/oidc/published-documents.js';

let tb: TestBroker;
let rp: RelyingParty;

/** A client that authenticates with a client_secret_jwt assertion (RFC 7523) wherever it authenticates. */
const assertingClient = {
  client_id: 'asserting-app',
  client_secret: 'an-asserting-app-secret-long-enough-for-the-schema',
  token_endpoint_auth_method: 'client_secret_jwt' as const,
  redirect_uris: ['https://asserting.example/callback'],
};

/** A client that knows each person by a sub of its own. */
const pairwiseClient = {
  client_id: 'pairwise-app',
  client_secret: 'a-pairwise-app-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://pairwise.example/callback'],
  subject_type: 'pairwise' as const,
};

/** A client that takes authorization requests only through PAR (RFC 9126 §6). */
const pushingClient = {
  client_id: 'pushing',
  client_secret: 'a-pushing-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://pushing.example/callback'],
  require_pushed_authorization_requests: true,
};

beforeAll(async () => {
  tb = await startTestBroker({ clients: [webClient, publicClient, assertingClient, pairwiseClient, pushingClient] }, 'protocol');
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

/** An authorization request written by hand, to send what a real client library never would. */
function authorizeUrl(params: Record<string, string | undefined>): string {
  const defaults = {
    client_id: webClient.client_id,
    response_type: 'code',
    redirect_uri: webClient.redirect_uris[0],
    scope: 'openid',
    state: 'state-1',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  };
  const query = Object.entries({ ...defaults, ...params }).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return `/auth?${new URLSearchParams(query)}`;
}

async function codeFromLogin() {
  const callback = await logIn(rp);
  return callback.searchParams.get('code')!;
}

describe('discovery', () => {
  it('advertises the code flow with PKCE S256 only, the eID acr values, and the endpoints', async () => {
    const metadata = rp.config.serverMetadata();
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.acr_values_supported).toEqual(['urn:test:test-double']);
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'personal_number', 'eid', 'offline_access']));
    for (const endpoint of ['userinfo_endpoint', 'end_session_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'pushed_authorization_request_endpoint']) {
      expect(metadata[endpoint], endpoint).toMatch(new RegExp(`^${tb.issuer}/`));
    }
    expect(metadata.ui_locales_supported).toEqual(['sv', 'en', 'nb', 'fi', 'da']);
    expect(metadata.claims_locales_supported).toEqual(['sv', 'en', 'nb', 'fi', 'da']);
    for (const endpoint of ['revocation', 'introspection']) {
      const methods = metadata[`${endpoint}_endpoint_auth_methods_supported`] as string[];
      expect([...methods].sort(), endpoint).toEqual([...metadata.token_endpoint_auth_methods_supported!].sort());
    }
    const jwks = (await (await fetch(`${tb.issuer}/jwks`)).json()) as { keys: Array<Record<string, string>> };
    expect(jwks.keys.map((key) => key.alg)).toEqual(['ES256', 'RS256']);
    expect(jwks.keys.every((key) => key.d === undefined)).toBe(true);
  });

  it('lists no CIBA when no configured eID serves backchannel requests: its endpoint would refuse every one', async () => {
    const metadata = rp.config.serverMetadata();
    expect(metadata.grant_types_supported).toEqual(['authorization_code', 'refresh_token']);
    for (const field of ['backchannel_authentication_endpoint', 'backchannel_token_delivery_modes_supported', 'backchannel_user_code_parameter_supported', 'backchannel_authentication_request_signing_alg_values_supported']) {
      expect(metadata[field], field).toBeUndefined();
    }
  });

  it('the discovery document and the JWKS may be kept five minutes, an error not at all', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks']) {
      const response = await fetch(`${tb.issuer}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('cache-control'), path).toBe(`public, max-age=${PUBLISHED_DOCUMENT_MAX_AGE_SECONDS}`);
    }
    expect(PUBLISHED_DOCUMENT_MAX_AGE_SECONDS).toBe(300);
    const refused = await fetch(`${tb.issuer}/jwks`, { method: 'POST' });
    expect(refused.status).toBe(405);
    expect(refused.headers.get('cache-control') ?? '').not.toMatch(/public|max-age/);
  });
});

describe('answers with tokens or personal data', () => {
  /** Whether no cache may keep an answer, HTTP/1.0's included (RFC 6749 §5.1: Cache-Control: no-store and Pragma: no-cache). */
  const kept = ({ headers }: { headers: Headers }) => ({ 'cache-control': headers.get('cache-control'), pragma: headers.get('pragma') });
  const notKept = { 'cache-control': 'no-store', pragma: 'no-cache' };

  it('may be kept by no cache: the token response, a refresh, userinfo, introspection and a pushed request', async () => {
    const callback = await logIn(rp);
    const redeemed = await tokenRequest(tb.issuer, webClient, codeRedemption(rp, callback));
    expect(redeemed.status).toBe(200);
    expect(kept(redeemed)).toEqual(notKept);
    const accessToken = String(redeemed.body.access_token);

    const publicRp = await RelyingParty.discover(tb.issuer, publicClient);
    const refreshable = await tokenRequest(tb.issuer, publicClient, codeRedemption(publicRp, await logIn(publicRp, { scope: 'openid offline_access', prompt: 'consent' })));
    const refreshed = await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: String(refreshable.body.refresh_token) });
    expect(refreshed.status).toBe(200);
    expect(kept(refreshed)).toEqual(notKept);

    const userinfo = await fetch(`${tb.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(userinfo.status).toBe(200);
    expect(kept(userinfo)).toEqual(notKept);

    const introspected = await tokenRequest(tb.issuer, webClient, { token: accessToken }, '/token/introspection');
    expect(introspected.body.active).toBe(true);
    expect(kept(introspected)).toEqual(notKept);

    const pushed = await tokenRequest(tb.issuer, webClient, Object.fromEntries((await rp.authorizationUrl()).searchParams), '/request');
    expect(pushed.status).toBe(201);
    expect(kept(pushed)).toEqual(notKept);
  });
});

describe('CORS', () => {
  const origin = 'https://elsewhere.example';
  const form = { 'content-type': 'application/x-www-form-urlencoded' };

  it("the broker's own refusals at an endpoint scripts call carry the origin; oidc-provider's refusal of an origin, and the pages, carry none", async () => {
    const compressed = await fetch(`${tb.issuer}/token`, { method: 'POST', headers: { origin, ...form, 'content-encoding': 'gzip' }, body: 'x' });
    expect(compressed.status).toBe(415);
    expect(compressed.headers.get('access-control-allow-origin')).toBe(origin);
    expect(compressed.headers.get('access-control-expose-headers')).toBe('Retry-After, WWW-Authenticate');

    // A public client's scripts come from the origins of its redirect URIs only.
    const redemption = { grant_type: 'authorization_code', code: 'x', client_id: publicClient.client_id, redirect_uri: publicClient.redirect_uris[0]!, code_verifier: 'x'.repeat(43) };
    const otherOrigin = await fetch(`${tb.issuer}/token`, { method: 'POST', headers: { origin, ...form }, body: new URLSearchParams(redemption) });
    expect(otherOrigin.status).toBe(400);
    expect(otherOrigin.headers.get('access-control-allow-origin')).toBeNull();

    const page = await fetch(`${tb.issuer}/auth?client_id=unknown`, { headers: { origin } });
    expect(page.status).toBe(400);
    expect(page.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('client assertions at revocation and introspection', () => {
  /** A revocation or introspection request authenticated by assertingClient's assertion, signed with `alg`. */
  async function withAssertion(endpoint: string, alg: string): Promise<number> {
    const assertion = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg })
      .setIssuer(assertingClient.client_id)
      .setSubject(assertingClient.client_id)
      .setAudience(tb.issuer)
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(assertingClient.client_secret));
    const body = new URLSearchParams({
      token: 'a-token-nobody-was-issued',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    return (await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })).status;
  }

  it('are listed with their signing algorithms (RFC 8414 §2), which are the ones the endpoints take', async () => {
    const metadata = rp.config.serverMetadata();
    for (const endpoint of ['revocation', 'introspection']) {
      expect(metadata[`${endpoint}_endpoint_auth_methods_supported`], endpoint).toEqual(expect.arrayContaining(['client_secret_jwt', 'private_key_jwt']));
      const algs = metadata[`${endpoint}_endpoint_auth_signing_alg_values_supported`];
      expect(algs, endpoint).toEqual(metadata.token_endpoint_auth_signing_alg_values_supported);
      expect(algs, endpoint).toContain('HS256');
      expect(algs, endpoint).not.toContain('HS512');
      const url = metadata[`${endpoint}_endpoint`] as string;
      expect(await withAssertion(url, 'HS256'), `${endpoint} HS256`).toBe(200);
      expect(await withAssertion(url, 'HS512'), `${endpoint} HS512`).toBe(401);
    }
  });
});

describe("a method oidc-provider's endpoints do not take", () => {
  it('gets 405 with the methods the endpoint takes in Allow, and every method Allow names is taken there', async () => {
    const metadata = rp.config.serverMetadata();
    const endpoints = [
      ...['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'revocation_endpoint', 'introspection_endpoint', 'end_session_endpoint', 'pushed_authorization_request_endpoint'].map(
        (name) => metadata[name] as string,
      ),
      `${tb.issuer}/.well-known/openid-configuration`,
      `${tb.issuer}/.well-known/oauth-authorization-server`,
    ];
    for (const endpoint of endpoints) await expectWrongMethodRefused(endpoint);
  });

  it('at an endpoint with an id in its path, the return to /auth/<uid> from a login: 405 too', async () => {
    expect(await expectWrongMethodRefused(`${tb.issuer}/auth/some-login`)).toEqual(['HEAD', 'GET']);
    // One segment only: beneath it there is nothing.
    expect((await fetch(`${tb.issuer}/auth/some-login/more`, { method: 'PATCH', headers: { accept: 'application/json' } })).status).toBe(404);
  });
});

describe('PKCE is required for every client', () => {
  it.each([
    ['missing', { code_challenge: undefined, code_challenge_method: undefined }],
    ['plain', { code_challenge_method: 'plain' }],
    ['without a method', { code_challenge_method: undefined }],
    // RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA256(verifier)), 43 characters whose last
    // holds 4 bits. Any other challenge matches no verifier: the person would identify for a code
    // that can never be redeemed.
    ['S256 with a challenge of 44 characters', { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cMA' }],
    ['S256 with a challenge of 128 characters', { code_challenge: 'a'.repeat(128) }],
    ['S256 with a challenge of 43 characters that no SHA-256 digest ends in', { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN' }],
  ])('a confidential client with PKCE %s is refused at the client', async (_case, params) => {
    const { leftTo } = await new TestBrowser(tb.issuer).follow(authorizeUrl(params));
    expect(leftTo?.origin).toBe('https://rp.example');
    expect(leftTo?.searchParams.get('error')).toBe('invalid_request');
    expect(leftTo?.searchParams.get('state')).toBe('state-1');
    expect(leftTo?.searchParams.get('code')).toBeNull();
  });

  it('a wrong code_verifier gets invalid_grant', async () => {
    const code = await codeFromLogin();
    const response = await tokenRequest(tb.issuer, webClient, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: webClient.redirect_uris[0]!,
      code_verifier: client.randomPKCECodeVerifier(),
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_grant');
  });

  it('a code redeemed without any code_verifier gets invalid_grant', async () => {
    const code = await codeFromLogin();
    const response = await tokenRequest(tb.issuer, webClient, { grant_type: 'authorization_code', code, redirect_uri: webClient.redirect_uris[0]! });
    expect(response.status).toBe(400);
    expect(['invalid_grant', 'invalid_request']).toContain(response.body.error);
  });
});

describe('redirect URIs are matched exactly', () => {
  it.each([
    'https://evil.example/callback',
    'https://rp.example/callback/',
    'https://rp.example/callback?x=1',
    'https://rp.example/Callback',
    'http://rp.example/callback',
    'https://rp.example/callback/../evil',
    'https://rp.example@evil.example/callback',
  ])('%s gets an error page and no redirect', async (redirectUri) => {
    const response = await new TestBrowser(tb.issuer).request(authorizeUrl({ redirect_uri: redirectUri }), { headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const page = await response.text();
    expect(page).toContain(response.headers.get('traceid')!);
    expect(page).not.toContain('evil.example');
  });

  it('an unknown client gets an error page, never a redirect', async () => {
    const response = await new TestBrowser(tb.issuer).request(authorizeUrl({ client_id: 'nobody' }), { headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });
});

describe('authorization codes', () => {
  it('a replayed code gets invalid_grant, and the tokens from its first use are revoked', async () => {
    const callback = await logIn(rp, { scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await rp.redeem(callback);
    expect(tokens.refresh_token).toBeDefined();
    const sub = tokens.claims()!.sub;
    await expect(rp.userinfo(tokens.access_token, sub)).resolves.toMatchObject({ sub });

    await expect(rp.redeem(callback)).rejects.toMatchObject({ error: 'invalid_grant' });

    await expect(rp.userinfo(tokens.access_token, sub)).rejects.toMatchObject({ status: 401 });
    const refreshed = await tokenRequest(tb.issuer, webClient, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  it('one code redeemed 10 times in parallel gives exactly one token set', async () => {
    const callback = await logIn(rp);
    const body = {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: webClient.redirect_uris[0]!,
      code_verifier: rp.flow.verifier,
    };
    const responses = await Promise.all(Array.from({ length: 10 }, () => tokenRequest(tb.issuer, webClient, body)));
    const issued = responses.filter((r) => r.status === 200);
    expect(issued).toHaveLength(1);
    expect(issued[0]!.body.access_token).toEqual(expect.any(String));
    for (const refused of responses.filter((r) => r.status !== 200)) {
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe('invalid_grant');
    }
  });
});

describe('a finished login', () => {
  it('resumed 6 times in parallel (3 rounds) gives one code; the other resumes are refused as a resume after it is', async () => {
    for (let round = 0; round < 3; round += 1) {
      const decide = (await rp.authorize()).response.url;
      const finished = await rp.browser.request(`${decide}${decide.includes('?') ? '&' : '?'}person=0`);
      const resume = finished.headers.get('location')!;
      expect(new URL(resume, tb.issuer).pathname).toMatch(/^\/auth\//);

      const answers = await Promise.all(Array.from({ length: 6 }, () => rp.browser.request(resume)));

      const toClient = answers.map((answer) => answer.headers.get('location')).filter((location) => location?.startsWith(webClient.redirect_uris[0]!));
      expect(toClient).toHaveLength(1);
      expect(new URL(toClient[0]!).searchParams.get('code')).toEqual(expect.any(String));
      expect(answers.map((answer) => answer.status).sort()).toEqual([303, 400, 400, 400, 400, 400]);
      const after = await rp.browser.request(resume);
      expect(after.status).toBe(400);
    }
  });
});

describe('refresh tokens', () => {
  it('are rotated for public clients, and reusing a rotated one revokes the whole grant', async () => {
    const spa = await RelyingParty.discover(tb.issuer, publicClient);
    const tokens = await spa.redeem(await logIn(spa, { scope: 'openid offline_access', prompt: 'consent' }));
    const first = tokens.refresh_token!;

    const rotated = await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: first });
    expect(rotated.status).toBe(200);
    const second = rotated.body.refresh_token as string;
    expect(second).toBeDefined();
    expect(second).not.toBe(first);

    const reused = await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: first });
    expect(reused.body.error).toBe('invalid_grant');
    const afterReuse = await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: second });
    expect(afterReuse.body.error).toBe('invalid_grant');
  });

  it('keep the identity claims in refreshed ID tokens', async () => {
    const tokens = await rp.redeem(await logIn(rp, { scope: 'openid profile offline_access', prompt: 'consent' }));
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!);
    expect(refreshed.claims()).toMatchObject({ sub: tokens.claims()!.sub, name: 'Tessa Testsson', acr: 'urn:test:test-double' });
  });
});

describe('a client that does not authenticate, at every endpoint that authenticates clients (RFC 6749 §5.2)', () => {
  const ENDPOINTS = ['/token', '/token/revocation', '/token/introspection', '/request'];
  const form = { 'content-type': 'application/x-www-form-urlencoded' };

  /** The status, error and WWW-Authenticate of a POST of `body` to `path`. */
  async function posted(path: string, body: string, headers: Record<string, string> = {}) {
    const response = await fetch(`${tb.issuer}${path}`, { method: 'POST', headers: { ...form, ...headers }, body });
    return { status: response.status, error: ((await response.json()) as { error?: string }).error, challenge: response.headers.get('www-authenticate') };
  }

  it('no client authentication at all is invalid_client, with the Basic challenge of a 401', async () => {
    for (const path of ENDPOINTS) {
      const answer = await posted(path, 'grant_type=authorization_code&code=x&token=x&response_type=code');
      expect(answer, path).toMatchObject({ status: 401, error: 'invalid_client' });
      expect(answer.challenge, path).toMatch(new RegExp(`^Basic realm="${tb.issuer}"`));
    }
  });

  it('an Authorization header the broker cannot read as Basic is a failed authentication: 401 invalid_client, not a malformed request', async () => {
    for (const path of ENDPOINTS) {
      for (const authorization of ['Bearer some-access-token', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`]) {
        const answer = await posted(path, 'grant_type=authorization_code&code=x&token=x&response_type=code', { authorization });
        expect(answer, `${path} ${authorization}`).toMatchObject({ status: 401, error: 'invalid_client' });
        expect(answer.challenge, `${path} ${authorization}`).toMatch(new RegExp(`^Basic realm="${tb.issuer}"`));
      }
    }
  });

  it('a 401 always says how to authenticate (RFC 9110 §15.5.2): an unknown client or a wrong secret in the form body too', async () => {
    for (const path of ENDPOINTS) {
      for (const body of ['client_id=nobody&client_secret=x', `client_id=${webClient.client_id}&client_secret=wrong`]) {
        const answer = await posted(path, `${body}&grant_type=authorization_code&code=x&token=x&response_type=code`);
        expect(answer, `${path} ${body}`).toMatchObject({ status: 401, error: 'invalid_client' });
        expect(answer.challenge, `${path} ${body}`).toMatch(new RegExp(`^Basic realm="${tb.issuer}"`));
      }
      const basic = await posted(path, 'grant_type=authorization_code&code=x&token=x', { authorization: `Basic ${Buffer.from(`${webClient.client_id}:wrong`).toString('base64')}` });
      expect(basic, path).toMatchObject({ status: 401, error: 'invalid_client' });
      expect(basic.challenge, path).toMatch(new RegExp(`^Basic realm="${tb.issuer}", error="invalid_client"`));
    }
  });
});

describe('userinfo answers a request without a good access token as RFC 6750 §3 has it', () => {
  /** userinfo's status and WWW-Authenticate for a request with these headers and this form body. */
  async function userinfo(headers: Record<string, string>, form?: string, query = '') {
    const response = await fetch(`${tb.issuer}/me${query}`, {
      method: form === undefined ? 'GET' : 'POST',
      headers: { ...headers, ...(form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
      ...(form === undefined ? {} : { body: form }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    return { status: response.status, challenge: response.headers.get('www-authenticate') ?? '', error: body.error };
  }
  const realm = () => `Bearer realm="${tb.issuer}"`;

  it('no authentication, or a scheme other than Bearer: 401 with the Bearer challenge and no error code (§3.1)', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: `Basic ${Buffer.from(`${webClient.client_id}:${webClient.client_secret}`).toString('base64')}` }, { authorization: 'Negotiate YIIBhwYGKwYBBQUCoII' }]) {
      const answer = await userinfo(headers);
      expect(answer.status, JSON.stringify(headers)).toBe(401);
      expect(answer.challenge.startsWith(realm()), JSON.stringify(headers)).toBe(true);
      expect(answer.challenge, JSON.stringify(headers)).not.toContain('error=');
    }
  });

  it('a token that is not valid, in the header or the form body: 401 invalid_token', async () => {
    for (const answer of [await userinfo({ authorization: 'Bearer not-a-token' }), await userinfo({}, 'access_token=not-a-token')]) {
      expect(answer).toMatchObject({ status: 401, error: 'invalid_token' });
      expect(answer.challenge).toContain(`${realm()}, error="invalid_token"`);
    }
  });

  it('a malformed request: 400 invalid_request — two ways of sending a token, a token in the query, a Bearer header of more than one token', async () => {
    const malformed = [
      await userinfo({ authorization: 'Bearer not-a-token' }, 'access_token=not-a-token'),
      await userinfo({}, undefined, '?access_token=not-a-token'),
      await userinfo({ authorization: 'Bearer two tokens' }),
    ];
    for (const answer of malformed) {
      expect(answer).toMatchObject({ status: 400, error: 'invalid_request' });
      expect(answer.challenge).toContain(`${realm()}, error="invalid_request"`);
    }
    // Basic beside a token in the body is no second way of sending a token: the token is judged alone.
    expect(await userinfo({ authorization: 'Basic Zm9vOmJhcg==' }, 'access_token=not-a-token')).toMatchObject({ status: 401, error: 'invalid_token' });
  });

  it('a good token in the form body opens userinfo as one in the header does', async () => {
    const tokens = await rp.redeem(await logIn(rp));
    const response = await fetch(`${tb.issuer}/me`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `access_token=${tokens.access_token}` });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub: tokens.claims()!.sub });
  });
});

describe('revocation and introspection', () => {
  it('a revoked access token is inactive and no longer opens userinfo', async () => {
    const tokens = await rp.redeem(await logIn(rp));
    const active = await client.tokenIntrospection(rp.config, tokens.access_token);
    expect(active).toMatchObject({ active: true, client_id: webClient.client_id, sub: tokens.claims()!.sub });

    await client.tokenRevocation(rp.config, tokens.access_token);
    expect(await client.tokenIntrospection(rp.config, tokens.access_token)).toMatchObject({ active: false });
    await expect(rp.userinfo(tokens.access_token, tokens.claims()!.sub)).rejects.toMatchObject({ status: 401 });
  });
});

describe('pushed authorization requests', () => {
  it('a login started through PAR completes, and its request_uri works once only', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = await client.buildAuthorizationUrlWithPAR(rp.config, {
      redirect_uri: webClient.redirect_uris[0]!,
      scope: 'openid profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const browser = new TestBrowser(tb.issuer);
    const started = await browser.follow(url);
    const { leftTo } = await browser.follow(`${started.response.url}?person=0`);
    const tokens = await client.authorizationCodeGrant(rp.config, leftTo!, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()).toMatchObject({ name: 'Tessa Testsson' });

    const again = await new TestBrowser(tb.issuer).follow(url);
    expect(again.leftTo?.searchParams.get('error') ?? String(again.response.status)).toMatch(/invalid_request|400/);
  });

  it('a client registered with require_pushed_authorization_requests gets a plain authorization URL refused, and logs in through PAR', async () => {
    const pushing = await RelyingParty.discover(tb.issuer, pushingClient);
    const plain = await pushing.authorize();
    expect(plain.leftTo?.searchParams.get('error')).toBe('invalid_request');
    expect(plain.leftTo?.searchParams.get('error_description')).toMatch(/Pushed Authorization Request must be used/);
    const { response } = await pushing.browser.follow(await pushing.pushedAuthorizationUrl());
    const { leftTo } = await pushing.browser.follow(`${response.url}?person=0`);
    expect((await pushing.redeem(leftTo!)).claims()).toMatchObject({ aud: pushingClient.client_id, name: 'Tessa Testsson' });
  });

  it('a request_uri in a pushed request is refused with request_uri_not_supported, saying why', async () => {
    const pushed = await tokenRequest(
      tb.issuer,
      webClient,
      { request_uri: 'https://rp.example/request.jwt', response_type: 'code', scope: 'openid', redirect_uri: webClient.redirect_uris[0]! },
      new URL(rp.config.serverMetadata().pushed_authorization_request_endpoint!).pathname,
    );
    expect(pushed.status).toBe(400);
    expect(pushed.body).toEqual({ error: 'request_uri_not_supported', error_description: expect.stringContaining('PAR') });
  });

  it('an S256 code_challenge no code_verifier can match is refused at PAR, as at the authorization endpoint (RFC 9126 §2.1)', async () => {
    const pushed = await tokenRequest(
      tb.issuer,
      webClient,
      { client_id: webClient.client_id, response_type: 'code', scope: 'openid', redirect_uri: webClient.redirect_uris[0]!, code_challenge: 'a'.repeat(128), code_challenge_method: 'S256' },
      new URL(rp.config.serverMetadata().pushed_authorization_request_endpoint!).pathname,
    );
    expect(pushed.status).toBe(400);
    expect(pushed.body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('code_challenge') });
  });
});

/** A JWT a client signs with its secret (HS256), valid for `lifetime` seconds from now, or with no exp at all. */
function signedByClient(registration: { client_id: string; client_secret: string }, claims: Record<string, unknown>, lifetime: number | undefined) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer(registration.client_id).setAudience(tb.issuer).setIssuedAt();
  if (lifetime !== undefined) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + lifetime);
  return jwt.sign(new TextEncoder().encode(registration.client_secret));
}

const HOUR = 3600;

describe('how long a JWT a client signs may be valid', () => {
  /** A revocation request authenticated by assertingClient's assertion valid for `lifetime` seconds. */
  async function revokeWithAssertion(lifetime: number) {
    const assertion = await signedByClient(assertingClient, { sub: assertingClient.client_id, jti: randomUUID() }, lifetime);
    const body = new URLSearchParams({ token: 'a-token-nobody-was-issued', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion });
    const response = await fetch(rp.config.serverMetadata().revocation_endpoint!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    return { status: response.status, body: await response.text() };
  }

  it('a client assertion: an hour at most, or its replay record would stay in the store as long', async () => {
    expect((await revokeWithAssertion(HOUR - 60)).status).toBe(200);
    const refused = await revokeWithAssertion(10 * 365 * 24 * HOUR);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toEqual({ error: 'invalid_client', error_description: expect.stringMatching(/client_assertion may be valid for at most 3600 seconds/) });
  });

  /** A pushed authorization request of webClient made of a request object valid for `lifetime` seconds (undefined: no exp). */
  async function pushRequestObject(lifetime: number | undefined) {
    const request = await signedByClient(
      webClient,
      { client_id: webClient.client_id, response_type: 'code', redirect_uri: webClient.redirect_uris[0], scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' },
      lifetime,
    );
    const path = new URL(rp.config.serverMetadata().pushed_authorization_request_endpoint!).pathname;
    return { request, pushed: await tokenRequest(tb.issuer, webClient, { request }, path) };
  }

  it('a request object: it must expire, within an hour, pushed or in the authorization URL', async () => {
    expect((await pushRequestObject(HOUR - 60)).pushed.status).toBe(201);
    for (const lifetime of [undefined, 2 * HOUR]) {
      const { request, pushed } = await pushRequestObject(lifetime);
      expect(pushed.status, String(lifetime)).toBe(400);
      expect(pushed.body, String(lifetime)).toEqual({ error: 'invalid_request_object', error_description: expect.stringMatching(/a request object (must say when it expires|may be valid for at most 3600 seconds)/) });
      const inUrl = await fetch(`${tb.issuer}/auth?${new URLSearchParams({ client_id: webClient.client_id, request })}`, { redirect: 'manual', headers: { accept: 'text/html' } });
      expect(inUrl.status, String(lifetime)).toBe(400);
      expect(await inUrl.text()).toContain('invalid_request_object');
    }
  });
});

describe('logins are never reused', () => {
  it('prompt=none answers login_required even right after a login in the same browser', async () => {
    await logIn(rp);
    const { leftTo } = await rp.authorize({ prompt: 'none' });
    expect(leftTo?.searchParams.get('error')).toBe('login_required');
  });

  it('a second person on the same browser gets their own identity, with no logout page in between', async () => {
    const first = await rp.redeem(await logIn(rp, {}, 'person=0'));
    const second = await rp.redeem(await logIn(rp, {}, 'person=1'));
    expect(first.claims()!.name).toBe('Tessa Testsson');
    expect(second.claims()!.name).toBe('Anna Andersson');
    expect(second.claims()!.sub).not.toBe(first.claims()!.sub);
  });

  it('prompt=select_account runs the eID, where the person says who logs in, and gives a code; with none it is refused', async () => {
    const started = await rp.authorize({ prompt: 'select_account' });
    expect(started.response.url).toContain('/decide');
    const { leftTo } = await rp.browser.follow(`${started.response.url}?person=1`);
    expect((await rp.redeem(leftTo!)).claims()!.name).toBe('Anna Andersson');

    const { leftTo: refused } = await rp.authorize({ prompt: 'none select_account' });
    expect(refused?.searchParams.get('error')).toBe('invalid_request');
  });

  it.each([
    ['public', webClient],
    ['pairwise', pairwiseClient],
  ])('an id_token_hint, or a sub asked for by value, gets a code for that person only; another gets login_required at the client (%s sub)', async (_kind, registration) => {
    const client = await RelyingParty.discover(tb.issuer, registration);
    const named = await client.redeem(await logIn(client, {}, 'person=0'));
    const namings: Array<Record<string, string>> = [{ id_token_hint: named.id_token! }, { claims: JSON.stringify({ id_token: { sub: { value: named.claims()!.sub } } }) }];
    for (const naming of namings) {
      const same = await client.redeem(await logIn(client, naming, 'person=0'));
      expect(same.claims()!.sub).toBe(named.claims()!.sub);

      const started = await client.authorize(naming);
      const { leftTo } = await client.browser.follow(`${started.response.url}?person=1`);
      expect(leftTo?.origin, Object.keys(naming)[0]).toBe(new URL(registration.redirect_uris[0]!).origin);
      expect(leftTo?.searchParams.get('error')).toBe('login_required');
      expect(leftTo?.searchParams.get('state')).toBe(client.flow.state);
      expect(leftTo?.searchParams.get('code')).toBeNull();
    }
  });

  it('a second authorization in the same browser runs the eID again', async () => {
    await logIn(rp);
    const again = await rp.authorize();
    expect(again.response.url).toContain('/decide');
  });
});

describe('RP-initiated logout', () => {
  it('asks for confirmation, then returns to the registered post_logout_redirect_uri', async () => {
    const tokens = await rp.redeem(await logIn(rp));
    const endSession = client.buildEndSessionUrl(rp.config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: webClient.post_logout_redirect_uris[0]!,
      state: 'bye',
    });
    const confirmation = await rp.browser.request(endSession);
    expect(confirmation.status).toBe(200);
    const page = await confirmation.text();
    expect(page).toContain('name="logout"');
    const { leftTo } = await rp.browser.confirmLogout(page);
    expect(leftTo?.href).toBe('https://rp.example/logged-out?state=bye');
  });

  it('refuses a post_logout_redirect_uri that is not registered, with a page that speaks of the logout', async () => {
    const tokens = await rp.redeem(await logIn(rp));
    const response = await rp.browser.request(
      client.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/' }),
      { headers: { accept: 'text/html' } },
    );
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const page = await response.text();
    expect(page).toContain('The service sent a logout request we could not accept.');
    expect(page).not.toContain('login');
  });
});
