import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { simulatedPersons } from '../../providers/se-bankid/simulator/persons.js';
import { tokenRequest } from '../support/http.js';
import { ASYMMETRIC_ALGS, CLIENTS, ConformanceRp, SPECIAL_SECRET, startConformanceBed, type ClientName, type ConformanceBed } from '../support/conformance.js';

/**
 * What discovery says against what works (the Config OP plan, and "every advertised value works,
 * nothing unadvertised does"): the token endpoint's client authentication, request objects,
 * signed CIBA requests, userinfo, DPoP, grants, refresh, the JWKS. openid-client is the relying
 * party; BankID's simulator logs the person in.
 */

let bed: ConformanceBed;
let metadata: client.ServerMetadata;

beforeAll(async () => {
  bed = await startConformanceBed('conformance-discovery');
  metadata = (await ConformanceRp.discover(bed, 'basic')).metadata;
});

/** A JWT the client `clientId` signs with its secret (HS*) or its key for `alg`. */
async function signedByClient(clientId: ClientName, alg: string, payload: Record<string, unknown>, audience: string): Promise<string> {
  const jwt = new SignJWT({ jti: randomUUID(), ...payload }).setIssuer(clientId).setAudience(audience).setIssuedAt().setExpirationTime('1m');
  if (alg.startsWith('HS')) {
    return jwt.setProtectedHeader({ alg }).sign(new TextEncoder().encode(CLIENTS[clientId].client_secret));
  }
  const { key, kid } = bed.rpKeys[alg as (typeof ASYMMETRIC_ALGS)[number]];
  return jwt.setProtectedHeader({ alg, kid }).sign(key);
}

/** A refresh grant authenticated with a client assertion signed with `alg`: its status. */
async function refreshWithAssertion(clientId: ClientName, alg: string, refreshToken: string): Promise<number> {
  const assertion = await signedByClient(clientId, alg, { sub: clientId }, bed.tb.issuer);
  const body = new URLSearchParams({
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: assertion,
  });
  const response = await fetch(metadata.token_endpoint!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  return response.status;
}

describe('token endpoint client authentication', () => {
  /** The clients registered with one method each. */
  const byMethod = (Object.keys(CLIENTS) as ClientName[]).flatMap((name) => {
    const method = CLIENTS[name].token_endpoint_auth_method;
    return method ? [{ name, method }] : [];
  });

  it.each(byMethod)(
    '$method: a login redeemed with it, as discovery lists it',
    async ({ name, method }) => {
      expect(metadata.token_endpoint_auth_methods_supported).toContain(method);
      const rp = await ConformanceRp.discover(bed, name);
      const tokens = await rp.tokens();
      expect(tokens.claims()).toMatchObject({ aud: name, iss: bed.tb.issuer });
      expect(tokens.token_type).toBe('bearer');
    },
  );

  it('client_secret_basic: the secret form-encoded (RFC 6749 §2.3.1) is taken; sent as it is, with characters that need encoding, it is refused', async () => {
    expect(SPECIAL_SECRET).toMatch(/[ %+&=/?:]/);
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'none-issued' });
    const send = (credentials: string) =>
      fetch(metadata.token_endpoint!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(credentials).toString('base64')}` }, body: form });
    const formEncode = (text: string) => new URLSearchParams({ v: text }).toString().slice(2);
    const encoded = await send(`basic:${formEncode(SPECIAL_SECRET)}`);
    expect(await encoded.json()).toMatchObject({ error: 'invalid_grant' });
    const raw = await send(`basic:${SPECIAL_SECRET}`);
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('a wrong secret gets 401 invalid_client, by Basic with WWW-Authenticate naming Basic (RFC 6749 §5.2), in the body without', async () => {
    const refreshForm = { grant_type: 'refresh_token', refresh_token: 'none-issued' };
    const byBasic = await tokenRequest(bed.tb.issuer, { client_id: 'basic', client_secret: `${SPECIAL_SECRET}!` }, refreshForm);
    expect(byBasic.status).toBe(401);
    expect(byBasic.body.error).toBe('invalid_client');
    expect(byBasic.headers.get('www-authenticate')).toMatch(/^Basic /);
    const inBody = await fetch(metadata.token_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...refreshForm, client_id: 'post', client_secret: 'wrong' }),
    });
    expect(inBody.status).toBe(401);
    expect(await inBody.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('client assertions: each algorithm discovery lists is taken (private_key_jwt and client_secret_jwt), others are refused', async () => {
    const listed = metadata.token_endpoint_auth_signing_alg_values_supported!;
    const privateKey = await ConformanceRp.discover(bed, 'private-key');
    const pkRefresh = (await privateKey.tokens({ scope: 'openid offline_access', prompt: 'consent' })).refresh_token!;
    for (const alg of ASYMMETRIC_ALGS) {
      expect(listed, alg).toContain(alg);
      expect(await refreshWithAssertion('private-key', alg, pkRefresh), alg).toBe(200);
    }
    const secretJwt = await ConformanceRp.discover(bed, 'jwt');
    const jwtRefresh = (await secretJwt.tokens({ scope: 'openid offline_access', prompt: 'consent' })).refresh_token!;
    expect(listed).toContain('HS256');
    expect(await refreshWithAssertion('jwt', 'HS256', jwtRefresh)).toBe(200);
    for (const alg of ['HS384', 'HS512']) {
      expect(listed, alg).not.toContain(alg);
      expect(await refreshWithAssertion('jwt', alg, jwtRefresh), alg).toBe(401);
    }
  });
});

describe('request objects (request_parameter_supported)', () => {
  /** An authorization request carried in a request object signed with `alg` by `clientId`: where it lands. */
  async function requestObjectLanding(rp: ConformanceRp, alg: string) {
    const url = await rp.authorizationUrl();
    const inside = Object.fromEntries(url.searchParams);
    const request = await signedByClient(rp.name, alg, inside, bed.tb.issuer);
    return rp.browser.follow(`/auth?${new URLSearchParams({ client_id: rp.name, response_type: 'code', scope: 'openid', request })}`);
  }

  /**
   * A request object the broker cannot verify: an error page, since the redirect_uri is inside
   * it and cannot be trusted either (OpenID Connect Core §6.3.2).
   */
  async function expectRefusedRequestObject({ leftTo, response }: { leftTo?: URL; response: Response }) {
    expect(leftTo).toBeUndefined();
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('<code>invalid_request_object</code>');
  }

  it('signed with each algorithm discovery lists, by the client with its keys or (HS256) its secret: the login starts; unsigned or HS512: an error page, invalid_request_object', async () => {
    expect(metadata.request_parameter_supported).toBe(true);
    const listed = metadata.request_object_signing_alg_values_supported!;
    expect(listed).not.toContain('none');
    const privateKey = await ConformanceRp.discover(bed, 'private-key');
    for (const alg of ASYMMETRIC_ALGS) {
      expect(listed, alg).toContain(alg);
      const { leftTo, response } = await requestObjectLanding(privateKey, alg);
      expect(leftTo?.href, alg).toBeUndefined();
      expect(new URL(response.url).pathname, alg).toMatch(/\/se-bankid\/$/);
    }
    const basic = await ConformanceRp.discover(bed, 'basic');
    expect(listed).toContain('HS256');
    expect((await requestObjectLanding(basic, 'HS256')).leftTo).toBeUndefined();
    expect(listed).not.toContain('HS512');
    await expectRefusedRequestObject(await requestObjectLanding(basic, 'HS512'));

    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'basic', aud: bed.tb.issuer, client_id: 'basic', redirect_uri: basic.redirectUri })).toString('base64url')}.`;
    await expectRefusedRequestObject(await basic.browser.follow(`/auth?${new URLSearchParams({ client_id: 'basic', response_type: 'code', scope: 'openid', request: unsigned })}`));
  });

  it("the request object's parameters are the ones used: its state and nonce come back", async () => {
    const rp = await ConformanceRp.discover(bed, 'private-key');
    const { response } = await requestObjectLanding(rp, 'ES256');
    const { leftTo } = await rp.logInFrom(response);
    expect(leftTo?.searchParams.get('state')).toBe(rp.flow.state);
    expect((await rp.redeem(leftTo!)).claims()!.nonce).toBe(rp.flow.nonce);
  });
});

describe('CIBA requests (backchannel_authentication_request_signing_alg_values_supported)', () => {
  it('signed with each algorithm discovery lists: each starts a login on the person\'s phone', async () => {
    const rp = await ConformanceRp.discover(bed, 'private-key');
    const listed = metadata.backchannel_authentication_request_signing_alg_values_supported as string[];
    for (const alg of ASYMMETRIC_ALGS) {
      expect(listed, alg).toContain(alg);
      const claims = { scope: 'openid', login_hint: simulatedPersons[0]!.personalNumber, call_initiator: 'RP', nbf: Math.floor(Date.now() / 1000) };
      const request = await signedByClient('private-key', alg, claims, bed.tb.issuer);
      const started = await client.initiateBackchannelAuthentication(rp.config, { request });
      expect(started.auth_req_id, alg).toEqual(expect.any(String));
    }
  });
});

describe('userinfo', () => {
  it('answers the token in the Authorization header by GET and POST, and in a form body by POST; not in the query; without a token, 401 with WWW-Authenticate', async () => {
    const rp = await ConformanceRp.discover(bed, 'basic');
    const tokens = await rp.tokens();
    const sub = tokens.claims()!.sub;
    const endpoint = metadata.userinfo_endpoint!;
    const bearer = { authorization: `Bearer ${tokens.access_token}` };
    const answers = [
      await fetch(endpoint, { headers: bearer }),
      await fetch(endpoint, { method: 'POST', headers: bearer }),
      await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ access_token: tokens.access_token }) }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await answer.json()).toMatchObject({ sub, personal_number: expect.any(String) });
    }
    const inQuery = await fetch(`${endpoint}?access_token=${tokens.access_token}`);
    expect(inQuery.status).toBe(400);
    const withoutToken = await fetch(endpoint);
    expect(withoutToken.status).toBe(401);
    expect(withoutToken.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
  });

  it('for a client registered with userinfo_signed_response_alg: a JWT signed with it, with iss and aud, which openid-client verifies', async () => {
    expect(metadata.userinfo_signing_alg_values_supported).toContain(CLIENTS['signed-userinfo'].userinfo_signed_response_alg);
    expect(metadata).not.toHaveProperty('userinfo_encryption_alg_values_supported');
    const rp = await ConformanceRp.discover(bed, 'signed-userinfo');
    const tokens = await rp.tokens();
    const raw = await fetch(metadata.userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(raw.headers.get('content-type')).toMatch(/^application\/jwt/);
    const jwt = await raw.text();
    expect(decodeProtectedHeader(jwt).alg).toBe('RS256');
    const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(metadata.jwks_uri!)), { issuer: bed.tb.issuer, audience: 'signed-userinfo' });
    expect(payload.sub).toBe(tokens.claims()!.sub);
    expect(await client.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub)).toMatchObject({ sub: tokens.claims()!.sub });
  });
});

describe('DPoP (dpop_signing_alg_values_supported)', () => {
  it('binds the tokens to the key of the proof: token_type DPoP, userinfo with a proof, refused as a plain bearer token, a refresh stays bound', async () => {
    expect(metadata.dpop_signing_alg_values_supported).toContain('ES256');
    const rp = await ConformanceRp.discover(bed, 'basic');
    const dpop = client.getDPoPHandle(rp.config, await client.randomDPoPKeyPair('ES256'));
    const callback = await rp.logIn({ scope: 'openid profile offline_access', prompt: 'consent' });
    const tokens = await client.authorizationCodeGrant(
      rp.config,
      callback,
      { pkceCodeVerifier: rp.flow.verifier, expectedState: rp.flow.state, expectedNonce: rp.flow.nonce },
      undefined,
      { DPoP: dpop },
    );
    expect(tokens.token_type).toBe('dpop');
    const sub = tokens.claims()!.sub;
    expect(await client.fetchUserInfo(rp.config, tokens.access_token, sub, { DPoP: dpop })).toMatchObject({ sub, name: expect.any(String) });
    const asBearer = await fetch(metadata.userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(asBearer.status).toBe(401);
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!, undefined, { DPoP: dpop });
    expect(refreshed.token_type).toBe('dpop');
    expect(await client.tokenIntrospection(rp.config, refreshed.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: expect.any(String) } });
  });
});

describe('grants', () => {
  it('those discovery does not list are refused with unsupported_grant_type', async () => {
    const unlisted = ['client_credentials', 'password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:token-exchange', 'urn:ietf:params:oauth:grant-type:jwt-bearer'];
    for (const grantType of unlisted) {
      expect(metadata.grant_types_supported, grantType).not.toContain(grantType);
      const answer = await tokenRequest(bed.tb.issuer, { client_id: 'post', client_secret: CLIENTS.post.client_secret }, { grant_type: grantType });
      expect(answer.body.error, grantType).toBe('unsupported_grant_type');
    }
  });

  it('those discovery lists but the client is not registered for are refused with unauthorized_client (RFC 6749 §5.2)', async () => {
    const refused = [
      { by: 'no-refresh', form: { grant_type: 'refresh_token', refresh_token: 'any' } },
      { by: 'basic', form: { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: 'any' } },
    ] as const;
    for (const { by, form } of refused) {
      expect(metadata.grant_types_supported).toContain(form.grant_type);
      const answer = await tokenRequest(bed.tb.issuer, { client_id: by, client_secret: CLIENTS[by].client_secret }, form);
      expect(answer.status, by).toBe(400);
      expect(answer.body.error, by).toBe('unauthorized_client');
    }
  });

  it('a code redeemed twice: invalid_grant, and the access and refresh tokens of its first redemption stop working', async () => {
    const rp = await ConformanceRp.discover(bed, 'post');
    const callback = await rp.logIn({ scope: 'openid offline_access', prompt: 'consent' });
    const first = await rp.redeem(callback);
    const sub = first.claims()!.sub;
    await expect(rp.redeem(callback)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(client.fetchUserInfo(rp.config, first.access_token, sub)).rejects.toMatchObject({ status: 401 });
    await expect(client.refreshTokenGrant(rp.config, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('a code redeemed with another redirect_uri, or by another client, gets invalid_grant', async () => {
    const rp = await ConformanceRp.discover(bed, 'basic');
    const redemptions = [
      { by: 'basic', redirect: `${rp.redirectUri}/other` },
      { by: 'signed-userinfo', redirect: rp.redirectUri },
    ] as const;
    for (const { by, redirect } of redemptions) {
      const code = (await rp.logIn()).searchParams.get('code')!;
      const answer = await tokenRequest(bed.tb.issuer, { client_id: by, client_secret: CLIENTS[by].client_secret }, { grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: rp.flow.verifier });
      expect(answer.body.error, by).toBe('invalid_grant');
    }
  });
});

describe('refresh and offline_access', () => {
  it('a refresh with a narrower scope gets that scope, and an ID token of the same login; a wider scope is refused', async () => {
    const rp = await ConformanceRp.discover(bed, 'basic');
    const tokens = await rp.tokens({ scope: 'openid profile personal_number offline_access', prompt: 'consent' });
    const original = tokens.claims()!;
    const narrowed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!, { scope: 'openid profile' });
    expect(narrowed.scope).toBe('openid profile');
    const refreshedIdToken = narrowed.claims()!;
    expect(refreshedIdToken).toMatchObject({ iss: original.iss, sub: original.sub, aud: original.aud, auth_time: original.auth_time, acr: original.acr });
    expect(refreshedIdToken.iat).toBeGreaterThanOrEqual(original.iat);
    const userinfo = await client.fetchUserInfo(rp.config, narrowed.access_token, original.sub);
    expect(userinfo).toHaveProperty('name');
    expect(userinfo).not.toHaveProperty('personal_number');
    await expect(client.refreshTokenGrant(rp.config, tokens.refresh_token!, { scope: 'openid email' })).rejects.toMatchObject({ error: 'invalid_scope' });
  });

  it('offline_access gives a refresh token with prompt=consent only (OIDC Core §11), and never to a client registered without refresh tokens', async () => {
    const rp = await ConformanceRp.discover(bed, 'basic');
    const withoutConsent = await rp.tokens({ scope: 'openid offline_access' });
    expect(withoutConsent.refresh_token).toBeUndefined();
    expect(withoutConsent.scope).toBe('openid');
    const withConsent = await rp.tokens({ scope: 'openid offline_access', prompt: 'consent' });
    expect(withConsent.refresh_token).toEqual(expect.any(String));
    expect(withConsent.scope).toBe('openid offline_access');

    const noRefresh = await ConformanceRp.discover(bed, 'no-refresh');
    const refused = await noRefresh.tokens({ scope: 'openid offline_access', prompt: 'consent' });
    expect(refused.refresh_token).toBeUndefined();
  });
});

describe('prompt values (prompt_values_supported)', () => {
  it('each one discovery lists is taken: none answers login_required, the others run the login and give a code', async () => {
    expect(metadata.prompt_values_supported).toEqual(['none', 'login', 'consent', 'select_account']);
    const rp = await ConformanceRp.discover(bed, 'basic');
    const { leftTo } = await rp.authorize({ prompt: 'none' });
    expect(leftTo?.searchParams.get('error')).toBe('login_required');
    for (const prompt of ['login', 'consent', 'select_account']) {
      expect((await rp.logIn({ prompt })).searchParams.get('code'), prompt).toEqual(expect.any(String));
    }
  });
});

describe('the JWKS', () => {
  it('holds each signing algorithm discovery lists once, with a unique kid, use sig and alg, and no private part; the ID token names one of them', async () => {
    const answer = await fetch(metadata.jwks_uri!);
    expect(answer.headers.get('content-type')).toMatch(/^application\/(jwk-set\+)?json/);
    const { keys } = (await answer.json()) as { keys: Array<Record<string, unknown>> };
    expect(keys.map((key) => key.alg).sort()).toEqual([...metadata.id_token_signing_alg_values_supported!].sort());
    expect(new Set(keys.map((key) => key.kid)).size).toBe(keys.length);
    for (const key of keys) {
      expect(key).toMatchObject({ use: 'sig', kid: expect.any(String) });
      for (const part of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key, `${String(key.kid)} ${part}`).not.toHaveProperty(part);
    }
    const rp = await ConformanceRp.discover(bed, 'public');
    const header = decodeProtectedHeader((await rp.tokens()).id_token!);
    expect(keys).toContainEqual(expect.objectContaining({ kid: header.kid, alg: header.alg }));
  });
});

describe('the metadata documents', () => {
  it('OpenID discovery and the RFC 8414 document say the same', async () => {
    const oauth = (await (await fetch(`${bed.tb.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(oauth).toEqual(metadata);
  });

  it('claims_supported lists every claim a login with every scope releases, in the ID token and at userinfo', async () => {
    const rp = await ConformanceRp.discover(bed, 'basic');
    const scope = metadata.scopes_supported!.filter((name) => name !== 'offline_access').join(' ');
    const tokens = await rp.tokens({ scope });
    const userinfo = await client.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub);
    // The JWT's own claims (RFC 7519 §4.1, OpenID Connect Core §2) are not claims about the person.
    const jwtClaims = new Set(['aud', 'exp', 'iat', 'nonce', 'iss']);
    const released = [...Object.keys(tokens.claims()!), ...Object.keys(userinfo)].filter((name) => !jwtClaims.has(name));
    expect(released).toEqual(expect.arrayContaining(['personal_number', 'idp', 'age_over_18']));
    for (const name of released) expect(metadata.claims_supported, name).toContain(name);
  });
});
