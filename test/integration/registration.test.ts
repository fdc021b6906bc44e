import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser.js';
import { expectWrongMethodRefused } from '../support/http.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { admin, loginWorks, startAdminBroker } from './admin-support.js';

/** The static initial access token of the first broker. */
const IAT = 'a-static-initial-access-token-0123456789abcdef';

let tb: TestBroker;

beforeAll(async () => {
  tb = await startAdminBroker({ registration: { enabled: true, initial_access_token: IAT, management: true } }, 'registration');
});

const webRegistration = {
  redirect_uris: ['https://news.example/callback'],
  client_name: 'The News',
  token_endpoint_auth_method: 'client_secret_basic',
};

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(url: string, method: string, token: string | undefined, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const register = (issuer: string, token: string | undefined, body: unknown) => call(`${issuer}/reg`, 'POST', token, body);

describe('dynamic client registration (RFC 7591)', () => {
  it('is advertised in discovery', async () => {
    const metadata = (await (await fetch(`${tb.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.registration_endpoint).toBe(`${tb.issuer}/reg`);
  });

  it('a relying party registers itself with openid-client and logs in at once', async () => {
    const configuration = await client.dynamicClientRegistration(new URL(tb.issuer), webRegistration, undefined, {
      initialAccessToken: IAT,
      execute: [client.allowInsecureRequests],
    });
    const registered = configuration.clientMetadata() as { client_id: string; client_secret?: string; registration_access_token?: string };
    expect(registered.client_secret).toEqual(expect.any(String));
    expect(registered.registration_access_token).toEqual(expect.any(String));
    // An id as the admin API gives: never one an operator's command line would read as an option.
    expect(registered.client_id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{15}$/);
    await loginWorks(tb.issuer, { client_id: registered.client_id, client_secret: registered.client_secret!, redirect_uris: webRegistration.redirect_uris });

    // One store: the admin API lists it too, without its secret.
    const listed = await admin(tb.issuer, 'GET', `/admin/clients/${registered.client_id}`);
    expect(listed.body).toMatchObject({ source: 'dynamic', client_name: 'The News' });
    expect(JSON.stringify(listed.body)).not.toContain(registered.client_secret);
  });

  it.each([
    ['no token', undefined],
    ['a wrong token', `${IAT}x`],
  ])('refuses a registration with %s: 401', async (_case, token) => {
    const answer = await register(tb.issuer, token, webRegistration);
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_token');
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('generates the secret itself: one sent by the client is ignored', async () => {
    const chosen = 'a-secret-the-client-would-like-to-have-0123456789';
    const answer = await register(tb.issuer, IAT, { ...webRegistration, client_secret: chosen });
    expect(answer.status).toBe(201);
    expect(answer.body.client_secret).toEqual(expect.any(String));
    expect(answer.body.client_secret).not.toBe(chosen);
  });

  it.each([
    [{ redirect_uris: ['http://news.example/callback'] }, 'invalid_redirect_uri', 'redirect_uris[0]: must use https'],
    [{ redirect_uris: ['https://news.example/cb#frag'] }, 'invalid_redirect_uri', 'redirect_uris[0]: must not contain a fragment'],
    [{ logo_uri: 'http://news.example/logo.png' }, 'invalid_client_metadata', 'logo_uri: must be an https URL'],
    [{ allowed_eids: ['xx-magic'] }, 'invalid_client_metadata', 'allowed_eids[0]: no eID xx-magic is configured'],
    [{ allowed_acr_values: ['urn:nope'] }, 'invalid_client_metadata', 'allowed_acr_values[0]: '],
    [{ default_ui_locales: 'sv' }, 'invalid_client_metadata', 'default_ui_locales: '],
    [{ client_name: 'N'.repeat(20_000) }, 'invalid_client_metadata', 'client_name: '],
    [{ client_name: 'The News \u202Eecivres' }, 'invalid_client_metadata', 'client_name: must not contain control characters'],
    [{ client_name: 'The\u0007News' }, 'invalid_client_metadata', 'client_name: must not contain control characters'],
    [{ client_name: 'The News\u2028Sports' }, 'invalid_client_metadata', 'client_name: must not contain control characters, lone surrogates, bidirectional formatting marks, line or paragraph separators'],
    [{ client_name: 'The\u200bNews' }, 'invalid_client_metadata', 'client_name: must not contain control characters, lone surrogates, bidirectional formatting marks, line or paragraph separators (U+2028, U+2029) or invisible characters'],
    // Discovery lists no encryption: asked for, it would have been dropped, and the answers sent in the clear.
    [{ id_token_encrypted_response_alg: 'RSA-OAEP' }, 'invalid_client_metadata', 'id_token_encrypted_response_alg: encryption is not supported'],
    [{ userinfo_encrypted_response_alg: 'RSA-OAEP', userinfo_encrypted_response_enc: 'A128GCM' }, 'invalid_client_metadata', 'userinfo_encrypted_response_alg: encryption is not supported'],
    [{ request_object_encryption_enc: 'A256GCM' }, 'invalid_client_metadata', 'request_object_encryption_enc: encryption is not supported'],
    [
      { application_type: 'native', redirect_uris: ['com.example.news:/callback'] },
      'invalid_client_metadata',
      'token_endpoint_auth_method: a native app cannot keep a secret',
    ],
    [
      { application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['news:/callback'] },
      'invalid_redirect_uri',
      'redirect_uris[0]: a private-use URI scheme must be a reversed domain name',
    ],
  ])('refuses %j with %s naming the field', async (change, error, description) => {
    const answer = await register(tb.issuer, IAT, { ...webRegistration, ...change });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe(error);
    expect(String(answer.body.error_description).startsWith(description)).toBe(true);
  });

  it('signs the ID tokens of a client that names no algorithm with RS256 (OIDC Registration §2); the admin API keeps ES256', async () => {
    const answer = await register(tb.issuer, IAT, webRegistration);
    expect(answer.status).toBe(201);
    expect(answer.body.id_token_signed_response_alg).toBe('RS256');
    const registered = { client_id: answer.body.client_id as string, client_secret: answer.body.client_secret as string, redirect_uris: webRegistration.redirect_uris };
    const tokens = await loginWorks(tb.issuer, registered);
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');

    const chosen = await register(tb.issuer, IAT, { ...webRegistration, id_token_signed_response_alg: 'ES256' });
    expect(chosen.body.id_token_signed_response_alg).toBe('ES256');
    const byAdmin = await admin(tb.issuer, 'POST', '/admin/clients', { redirect_uris: webRegistration.redirect_uris });
    expect(byAdmin.body.id_token_signed_response_alg).toBe('ES256');
  });

  it('a client registered with userinfo_signed_response_alg gets its userinfo as a JWT signed with that algorithm, as discovery says', async () => {
    const metadata = (await (await fetch(`${tb.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.userinfo_signing_alg_values_supported).toEqual(['ES256', 'RS256']);
    const answer = await register(tb.issuer, IAT, { ...webRegistration, userinfo_signed_response_alg: 'RS256' });
    expect(answer.body.userinfo_signed_response_alg).toBe('RS256');
    const registered = { client_id: answer.body.client_id as string, client_secret: answer.body.client_secret as string, redirect_uris: webRegistration.redirect_uris };
    const tokens = await loginWorks(tb.issuer, registered);

    const userinfo = await fetch(`${tb.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.headers.get('content-type')).toMatch(/^application\/jwt/);
    const { payload, protectedHeader } = await jwtVerify(await userinfo.text(), createRemoteJWKSet(new URL(`${tb.issuer}/jwks`)), {
      issuer: tb.issuer,
      audience: registered.client_id,
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub: tokens.claims()!.sub, name: 'Tessa Testsson' });
    expect(payload).not.toHaveProperty('nonce');
  });

  // Open registration's clients stop at a page first (introspection.test.ts): one a token let in is the operator's.
  it('a client registered with a token is not marked as open registration\'s: its error goes to its redirect_uri at once', async () => {
    const reg = (await register(tb.issuer, IAT, webRegistration)).body as { client_id: string };
    expect(reg).not.toHaveProperty('registered_openly');
    const query = { client_id: reg.client_id, response_type: 'code', scope: 'openid', redirect_uri: webRegistration.redirect_uris[0]!, state: 'the-state', prompt: 'none', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
    const response = await fetch(`${tb.issuer}/auth?${new URLSearchParams(query)}`, { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(webRegistration.redirect_uris[0]);
    expect(location.searchParams.get('error')).toBe('login_required');
    expect(location.searchParams.get('state')).toBe('the-state');
  });

  it.each([
    ['redirect_uris', { redirect_uris: [' https://news.example/callback'] }, 'redirect_uris[0]'],
    ['redirect_uris', { redirect_uris: ['https://news.example/callback '] }, 'redirect_uris[0]'],
    ['redirect_uris', { redirect_uris: ['https://news.example/callback', 'https://evil.example\\@news.example/callback'] }, 'redirect_uris[1]'],
    ['redirect_uris', { redirect_uris: ['https://news.exa\tmple/callback'] }, 'redirect_uris[0]'],
    ['redirect_uris', { redirect_uris: ['https://NEWS.example/callback'] }, 'redirect_uris[0]'],
    ['redirect_uris', { redirect_uris: ['https://news%2eexample/callback'] }, 'redirect_uris[0]'],
    ['redirect_uris', { redirect_uris: ['https://news.example/a/../callback'] }, 'redirect_uris[0]'],
    ['redirect_uris', { redirect_uris: ['https://0x7f.1/callback'] }, 'redirect_uris[0]'],
    ['post_logout_redirect_uris', { post_logout_redirect_uris: ['https://news.example/bye\u0000'] }, 'post_logout_redirect_uris[0]'],
    ['backchannel_logout_uri', { backchannel_logout_uri: 'https://news.example\\logout' }, 'backchannel_logout_uri'],
    ['frontchannel_logout_uri', { frontchannel_logout_uri: 'https://news.example/logout ' }, 'frontchannel_logout_uri'],
    ['initiate_login_uri', { initiate_login_uri: 'https://evil.example\\@news.example/login' }, 'initiate_login_uri'],
    ['initiate_login_uri', { initiate_login_uri: 'https://user:pw@news.example/login' }, 'initiate_login_uri'],
    ['jwks_uri', { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: ' https://news.example/jwks' }, 'jwks_uri'],
    ['sector_identifier_uri', { subject_type: 'pairwise', sector_identifier_uri: 'https://news.example/sector\\..' }, 'sector_identifier_uri'],
  ])('refuses a %s whose string is not the URL a parser makes of it: %j', async (_field, metadata, named) => {
    const answer = await register(tb.issuer, IAT, { ...webRegistration, ...metadata });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe(named.startsWith('redirect_uris') ? 'invalid_redirect_uri' : 'invalid_client_metadata');
    expect(String(answer.body.error_description).startsWith(`${named}: `)).toBe(true);
  });

  it('takes a URI written as a parser writes it, an origin without its slash too', async () => {
    const answer = await register(tb.issuer, IAT, { ...webRegistration, redirect_uris: ['https://news.example', 'https://news.example/cb?from=reg', 'https://[2001:db8::1]:8443/cb'] });
    expect(answer.status).toBe(201);
  });

  it('ignores metadata it does not know, as RFC 7591 asks', async () => {
    const answer = await register(tb.issuer, IAT, { ...webRegistration, colour: 'red', bankid_requirement: { pinCode: true } });
    expect(answer.status).toBe(201);
    expect(answer.body).not.toHaveProperty('colour');
    expect(answer.body).not.toHaveProperty('bankid_requirement');
  });

  it('a native app that does not name its token_endpoint_auth_method is public: none, no secret, PKCE through its private-use scheme', async () => {
    const answer = await register(tb.issuer, IAT, {
      application_type: 'native',
      redirect_uris: ['com.example.news:/oauth2redirect', 'http://127.0.0.1/callback'],
    });
    expect(answer.status).toBe(201);
    expect(answer.body.token_endpoint_auth_method).toBe('none');
    expect(answer.body).not.toHaveProperty('client_secret');
    const stored = await admin(tb.issuer, 'GET', `/admin/clients/${answer.body.client_id as string}`);
    expect(stored.body.token_endpoint_auth_method).toBe('none');
    const rp = await RelyingParty.discover(tb.issuer, { client_id: answer.body.client_id as string, redirect_uris: ['com.example.news:/oauth2redirect'] });
    const callback = await logIn(rp);
    expect(callback.protocol).toBe('com.example.news:');
    expect((await rp.redeem(callback)).claims()?.aud).toBe(answer.body.client_id);
  });
});

describe('names and pages in the languages of the pages (OpenID Connect Registration §2.1)', () => {
  const inLanguages = {
    'client_name#sv': 'Nyheterna',
    'client_name#fi': 'Uutiset',
    'client_uri#da': 'https://news.example/da/',
    'logo_uri#nb': 'https://news.example/nb/logo.png',
    'policy_uri#sv': 'https://news.example/sv/integritet',
    'tos_uri#fi': 'https://news.example/fi/ehdot',
  };

  it('keeps client_name#sv and the tagged URIs: the registration answers them, and so do management and the admin API', async () => {
    const answer = await register(tb.issuer, IAT, { ...webRegistration, ...inLanguages });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body).toMatchObject({ client_name: 'The News', ...inLanguages });
    const read = await call(answer.body.registration_client_uri as string, 'GET', answer.body.registration_access_token as string);
    expect(read.body).toMatchObject(inLanguages);
    expect((await admin(tb.issuer, 'GET', `/admin/clients/${answer.body.client_id as string}`)).body).toMatchObject(inLanguages);
  });

  it.each([
    [{ 'client_name#sv': '' }, 'client_name#sv: must not be empty'],
    [{ 'client_name#fi': 'Uutiset\u202e' }, 'client_name#fi: must not contain control characters, lone surrogates, bidirectional formatting marks, line or paragraph separators (U+2028, U+2029) or invisible characters such as U+200B, U+2060 or U+FEFF'],
    [{ 'client_name#sv': 'Nyheterna\ufeff' }, 'client_name#sv: must not contain control characters, lone surrogates, bidirectional formatting marks, line or paragraph separators (U+2028, U+2029) or invisible characters such as U+200B, U+2060 or U+FEFF'],
    [{ 'client_name#sv': 'x'.repeat(101) }, 'client_name#sv: must have at most 100 characters'],
    [{ 'logo_uri#sv': 'http://news.example/logo.png' }, 'logo_uri#sv: must be an https URL'],
    [{ 'policy_uri#da': 'javascript:alert(1)' }, 'policy_uri#da: must be an http(s) URL'],
    // The pages link to these: in the clear, the page could be swapped on the way.
    [{ policy_uri: 'http://news.example/privacy' }, 'policy_uri: must use https (http only on a loopback address, such as http://127.0.0.1:8080/callback)'],
    [{ 'tos_uri#fi': 'http://news.example/fi/ehdot' }, 'tos_uri#fi: must use https (http only on a loopback address, such as http://127.0.0.1:8080/callback)'],
    [{ client_uri: 'http://news.example/' }, 'client_uri: must use https (http only on a loopback address, such as http://127.0.0.1:8080/callback)'],
    [{ 'client_name#de': 'Die Nachrichten' }, "client_name#de: the broker's pages are in sv, en, nb, fi, da only, so client_name in another language would never be shown: leave it out"],
    [{ 'client_name#sv_SE': 'Nyheterna' }, 'client_name#sv_SE: not a language tag as RFC 5646 writes one: client_name#sv-SE'],
    // A tag the closer one leaves out is held to its field's rules all the same.
    [{ 'client_name#sv': 'Nyheterna', 'client_name#sv-FI': ' ' }, 'client_name#sv-FI: must not be empty'],
    [{ 'logo_uri#fi-FI': 'http://news.example/fi/logo.png' }, 'logo_uri#fi-FI: must be an https URL'],
    // A tag the client made up is repeated only in the characters an error_description may hold, and cut.
    [{ 'client_name#"\\é': 'x' }, "client_name#'/?: the broker's pages are in sv, en, nb, fi, da only, so client_name in another language would never be shown: leave it out"],
    [{ [`client_name#${'x'.repeat(200)}`]: 'x' }, `client_name#${'x'.repeat(52)}...: the broker's pages are in sv, en, nb, fi, da only, so client_name in another language would never be shown: leave it out`],
  ])('%j is refused, never dropped: invalid_client_metadata "%s"', async (metadata, description) => {
    const answer = await register(tb.issuer, IAT, { ...webRegistration, ...metadata });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: 'invalid_client_metadata', error_description: description });
  });

  it('a tag with a region, or another Norwegian, is taken and kept under the page language: the closest when several compete', async () => {
    const answer = await register(tb.issuer, IAT, {
      ...webRegistration,
      'client_name#sv-FI': 'Nyheterna i Finland',
      'client_name#sv-SE': 'Nyheterna',
      'client_name#sv-AX': 'Nyheterna på Åland',
      'logo_uri#fi-FI': 'https://news.example/fi/logo.png',
      'tos_uri#nn-NO': 'https://news.example/nn/vilkar',
      'tos_uri#no': 'https://news.example/no/vilkar',
      'policy_uri#en-US': 'https://news.example/us/privacy',
      'policy_uri#en-GB': 'https://news.example/gb/privacy',
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    const kept = {
      'client_name#sv': 'Nyheterna',
      'logo_uri#fi': 'https://news.example/fi/logo.png',
      'tos_uri#nb': 'https://news.example/no/vilkar',
      'policy_uri#en': 'https://news.example/gb/privacy',
    };
    expect(answer.body).toMatchObject(kept);
    expect(Object.keys(answer.body).filter((key) => /#(?:..-|nn|no)/.test(key))).toEqual([]);
    expect((await admin(tb.issuer, 'GET', `/admin/clients/${answer.body.client_id as string}`)).body).toMatchObject(kept);
  });

  it('the page language itself wins over its regions, whatever the order the metadata came in', async () => {
    for (const metadata of [
      { 'client_name#sv-SE': 'Nyheterna i Sverige', 'client_name#sv': 'Nyheterna' },
      { 'client_name#sv': 'Nyheterna', 'client_name#sv-SE': 'Nyheterna i Sverige' },
    ]) {
      const answer = await register(tb.issuer, IAT, { ...webRegistration, ...metadata });
      expect(answer.body).toMatchObject({ 'client_name#sv': 'Nyheterna' });
    }
  });

  it('an update through registration management is held to the same: a regional tag is kept under the page language, another language is refused', async () => {
    const answer = await register(tb.issuer, IAT, webRegistration);
    const update = { ...webRegistration, client_id: answer.body.client_id, 'client_name#en-GB': 'The News' };
    const updated = await call(answer.body.registration_client_uri as string, 'PUT', answer.body.registration_access_token as string, update);
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).toMatchObject({ 'client_name#en': 'The News' });
    const german = { ...update, 'client_name#de-AT': 'Die Nachrichten' };
    const refused = await call(answer.body.registration_client_uri as string, 'PUT', updated.body.registration_access_token as string, german);
    expect(refused.status).toBe(400);
    expect(refused.body.error_description).toBe(
      "client_name#de-AT: the broker's pages are in sv, en, nb, fi, da only, so client_name in another language would never be shown: leave it out",
    );
  });
});

/** What only the operator grants, as a client might ask for it, and the field a refusal names. */
const operatorGrants: Array<[string, Record<string, unknown>]> = [
  ['display_name', { display_name: 'Your Bank' }],
  ['authorization_details_types', { authorization_details_types: ['sign'] }],
  ['authorization_details_types', { authorization_details_types: ['payment'] }],
  ['grant_types', { grant_types: ['authorization_code', 'urn:openid:params:grant-type:ciba'], backchannel_token_delivery_mode: 'poll' }],
];

describe('what only the operator grants', () => {
  it.each(operatorGrants)('a client cannot give itself %s by registering: invalid_client_metadata naming it', async (field, asked) => {
    const answer = await register(tb.issuer, IAT, { ...webRegistration, ...asked });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_client_metadata');
    expect(answer.body.error_description).toMatch(new RegExp(`^${field}: .*granted by the operator`));
  });

  it.each(operatorGrants)('nor %s by updating its registration (RFC 7592)', async (field, asked) => {
    const reg = (await register(tb.issuer, IAT, webRegistration)).body as { client_id: string; registration_access_token: string; registration_client_uri: string };
    const answer = await call(reg.registration_client_uri, 'PUT', reg.registration_access_token, { ...webRegistration, client_id: reg.client_id, ...asked });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_client_metadata');
    expect(answer.body.error_description).toMatch(new RegExp(`^${field}: .*granted by the operator`));
    expect((await admin(tb.issuer, 'GET', `/admin/clients/${reg.client_id}`)).body).not.toHaveProperty(field === 'grant_types' ? 'backchannel_token_delivery_mode' : field);
  });

  // Asking for none of a grant was refused as asking for it: a client registering with the
  // metadata a registration answer shows (authorization_details_types: [], from oidc-provider)
  // was told it cannot have what it did not ask for.
  it('asking for none of a grant is no request for it: false, or no authorization_details types, registers; what the operator gave stays', async () => {
    const none = { resource_server: false, refresh_tokens_without_consent: false, authorization_details_types: [] };
    const answer = await register(tb.issuer, IAT, { ...webRegistration, ...none });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    const reg = answer.body as { client_id: string; registration_access_token: string; registration_client_uri: string };
    const granted = { resource_server: true, refresh_tokens_without_consent: true };
    expect((await admin(tb.issuer, 'PATCH', `/admin/clients/${reg.client_id}`, granted)).status).toBe(200);
    expect((await admin(tb.issuer, 'GET', `/admin/clients/${reg.client_id}`)).body).toMatchObject(granted);
    const updated = await call(reg.registration_client_uri, 'PUT', reg.registration_access_token, { ...webRegistration, client_id: reg.client_id, ...none });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect((await admin(tb.issuer, 'GET', `/admin/clients/${reg.client_id}`)).body).toMatchObject(granted);
  });

  it("the name the operator gave a registered client stays through the client's updates", async () => {
    const reg = (await register(tb.issuer, IAT, webRegistration)).body as { client_id: string; registration_access_token: string; registration_client_uri: string };
    const given = { display_name: 'Nyheterna AB' };
    expect((await admin(tb.issuer, 'PATCH', `/admin/clients/${reg.client_id}`, given)).status).toBe(200);
    // Read back and sent again as it is (RFC 7592 §2.2): what the client holds may be repeated.
    const read = await call(reg.registration_client_uri, 'GET', reg.registration_access_token);
    const notMetadata = new Set(['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at']);
    const own = Object.fromEntries(Object.entries(read.body).filter(([key]) => !notMetadata.has(key)));
    const repeated = await call(reg.registration_client_uri, 'PUT', reg.registration_access_token, own);
    expect(repeated.status, JSON.stringify(repeated.body)).toBe(200);
    // Left out, they are kept: the client's own client_name does not take the operator's name's place.
    const renamed = await call(reg.registration_client_uri, 'PUT', repeated.body.registration_access_token as string, {
      ...webRegistration,
      client_id: reg.client_id,
      client_name: 'Your Bank',
    });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body).toMatchObject({ ...given, client_name: 'Your Bank' });
    expect((await admin(tb.issuer, 'GET', `/admin/clients/${reg.client_id}`)).body).toMatchObject(given);
    const changed = await call(reg.registration_client_uri, 'PUT', renamed.body.registration_access_token as string, {
      ...webRegistration,
      client_id: reg.client_id,
      display_name: 'Your Bank',
    });
    expect(changed.status).toBe(400);
    expect(changed.body.error_description).toMatch(/^display_name: /);
  });
});

describe('registration management (RFC 7592)', () => {
  async function registered() {
    const answer = await register(tb.issuer, IAT, webRegistration);
    expect(answer.status).toBe(201);
    return answer.body as { client_id: string; client_secret: string; registration_access_token: string; registration_client_uri: string };
  }

  it('a request with another scheme than Bearer, at /reg or at a client, is one without a token (RFC 6750 §3.1): 401 with the Bearer challenge, no error code', async () => {
    const reg = await registered();
    const basic = `Basic ${Buffer.from(`${reg.client_id}:${reg.client_secret}`).toString('base64')}`;
    const answers = [
      await fetch(`${tb.issuer}/reg`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/json' }, body: JSON.stringify(webRegistration) }),
      await fetch(reg.registration_client_uri, { headers: { authorization: basic } }),
      await fetch(reg.registration_client_uri, { method: 'DELETE', headers: { authorization: basic } }),
    ];
    for (const answer of answers) {
      expect(answer.status, answer.url).toBe(401);
      expect(answer.headers.get('www-authenticate'), answer.url).toBe(`Bearer realm="${tb.issuer}"`);
    }
    expect((await call(reg.registration_client_uri, 'GET', reg.registration_access_token)).status).toBe(200);
  });

  it('a client reads, updates and deletes itself with its registration access token', async () => {
    const reg = await registered();
    expect(reg.registration_client_uri).toBe(`${tb.issuer}/reg/${reg.client_id}`);

    const read = await call(reg.registration_client_uri, 'GET', reg.registration_access_token);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ client_id: reg.client_id, redirect_uris: webRegistration.redirect_uris });

    const updated = await call(reg.registration_client_uri, 'PUT', reg.registration_access_token, {
      ...webRegistration,
      client_id: reg.client_id,
      redirect_uris: ['https://news.example/v2/callback'],
    });
    expect(updated.status).toBe(200);
    const rotatedToken = updated.body.registration_access_token as string;
    expect(rotatedToken).not.toBe(reg.registration_access_token);
    expect((await call(reg.registration_client_uri, 'GET', reg.registration_access_token)).status).toBe(401);
    // The change is live at once: the new redirect URI logs in.
    await loginWorks(tb.issuer, { client_id: reg.client_id, client_secret: reg.client_secret, redirect_uris: ['https://news.example/v2/callback'] });

    const refused = await call(reg.registration_client_uri, 'PUT', rotatedToken, {
      ...webRegistration,
      client_id: reg.client_id,
      redirect_uris: ['http://news.example/callback'],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error_description).toMatch(/^redirect_uris\[0\]: must use https/);

    expect((await call(reg.registration_client_uri, 'DELETE', rotatedToken)).status).toBe(204);
    expect((await call(reg.registration_client_uri, 'GET', rotatedToken)).status).toBe(401);
    const page = await new TestBrowser(tb.issuer).request(
      `/auth?${new URLSearchParams({ client_id: reg.client_id, response_type: 'code', scope: 'openid', redirect_uri: 'https://news.example/v2/callback', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`,
      { headers: { accept: 'text/html' } },
    );
    expect(page.status).toBe(400);
  });

  // A client leaving its secret (leaked, say) for a method without one must not keep it working:
  // oidc-provider kept it, and a request object signed with it (HS256) still spoke for the client.
  it('a client updated to a method without a secret loses its secret: a request object signed with it is refused', async () => {
    const reg = await registered();
    const updated = await call(reg.registration_client_uri, 'PUT', reg.registration_access_token, { ...webRegistration, client_id: reg.client_id, token_endpoint_auth_method: 'none' });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body).not.toHaveProperty('client_secret');
    expect((await call(reg.registration_client_uri, 'GET', updated.body.registration_access_token as string)).body).not.toHaveProperty('client_secret');
    const request = await new SignJWT({
      client_id: reg.client_id,
      response_type: 'code',
      redirect_uri: webRegistration.redirect_uris[0],
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(reg.client_id)
      .setAudience(tb.issuer)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(reg.client_secret));
    // Its signature cannot be checked, so neither can its redirect_uri: the error is the broker's page.
    const { response } = await new TestBrowser(tb.issuer).follow(`/auth?${new URLSearchParams({ client_id: reg.client_id, request })}`);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('<code>invalid_request_object</code>');
    // Back on a method with a secret, it gets a new one, in that answer.
    const again = await call(reg.registration_client_uri, 'PUT', updated.body.registration_access_token as string, { ...webRegistration, client_id: reg.client_id });
    expect(again.body.client_secret).toEqual(expect.any(String));
    expect(again.body.client_secret).not.toBe(reg.client_secret);
  });

  it("an update that would give the client's people other subs is refused, as the admin API refuses it: subject_type, or a pairwise client's sector", async () => {
    const reg = await registered();
    const rp = await RelyingParty.discover(tb.issuer, { client_id: reg.client_id, client_secret: reg.client_secret, redirect_uris: webRegistration.redirect_uris });
    const sub = (await rp.redeem(await logIn(rp))).claims()!.sub;
    const own = { ...webRegistration, client_id: reg.client_id };
    const toPairwise = await call(reg.registration_client_uri, 'PUT', reg.registration_access_token, { ...own, subject_type: 'pairwise' });
    expect(toPairwise.status).toBe(400);
    expect(toPairwise.body).toMatchObject({ error: 'invalid_client_metadata', error_description: expect.stringMatching(/^subject_type: this change would give every person another sub at this client/) });
    // Nothing was saved, and the token was not used up: the client is as it was.
    const read = await call(reg.registration_client_uri, 'GET', reg.registration_access_token);
    expect(read.body).toMatchObject({ subject_type: 'public' });
    expect((await rp.redeem(await logIn(rp))).claims()!.sub).toBe(sub);

    const pairwise = (await register(tb.issuer, IAT, { ...webRegistration, subject_type: 'pairwise' })).body as { client_id: string; registration_access_token: string; registration_client_uri: string };
    const ownPairwise = { ...webRegistration, client_id: pairwise.client_id, subject_type: 'pairwise' };
    const otherHost = await call(pairwise.registration_client_uri, 'PUT', pairwise.registration_access_token, { ...ownPairwise, redirect_uris: ['https://news.example.net/callback'] });
    expect(otherHost.status).toBe(400);
    // oidc-provider's invalid_client_metadata names a refusal of redirect_uris invalid_redirect_uri (RFC 7591 §3.2.2), at the admin API too.
    expect(otherHost.body).toMatchObject({ error: 'invalid_redirect_uri', error_description: expect.stringMatching(/^redirect_uris: this change would give every person another sub/) });
    const toPublic = await call(pairwise.registration_client_uri, 'PUT', pairwise.registration_access_token, { ...ownPairwise, subject_type: 'public' });
    expect(toPublic.body.error_description).toMatch(/^subject_type: this change would give every person another sub/);
    const sameHost = await call(pairwise.registration_client_uri, 'PUT', pairwise.registration_access_token, { ...ownPairwise, redirect_uris: ['https://news.example/other-callback'] });
    expect(sameHost.status).toBe(200);
  });

  it('a method /reg/<client_id> does not take: 405, naming those of reading, updating and deleting a client in Allow', async () => {
    const reg = await registered();
    expect(await expectWrongMethodRefused(reg.registration_client_uri)).toEqual(['HEAD', 'GET', 'PUT', 'DELETE']);
    expect((await call(reg.registration_client_uri, 'POST', reg.registration_access_token)).status).toBe(405);
  });

  it("a registration access token reaches its own client only, never another's or a static one", async () => {
    const first = await registered();
    const second = await registered();
    expect((await call(second.registration_client_uri, 'GET', first.registration_access_token)).status).toBe(401);
    expect((await call(`${tb.issuer}/reg/web-app`, 'GET', first.registration_access_token)).status).toBe(401);
    // The mismatch burns the token, so a probing client loses it.
    expect((await call(first.registration_client_uri, 'GET', first.registration_access_token)).status).toBe(401);
  });
});

describe('initial access tokens issued through the admin API', () => {
  let managed: TestBroker;

  beforeAll(async () => {
    managed = await startAdminBroker({ registration: { enabled: true, initial_access_token: true } }, 'registration-iat');
  });

  it('an issued token registers clients until it is revoked', async () => {
    const issued = await admin(managed.issuer, 'POST', '/admin/initial-access-tokens', { expires_in: 600, max_uses: 5 });
    expect(issued.status).toBe(201);
    const token = issued.body.initial_access_token as string;
    expect(issued.body.expires_at).toBeGreaterThan(Date.now() / 1000 + 500);

    const answer = await register(managed.issuer, token, webRegistration);
    expect(answer.status).toBe(201);
    // Without registration.management, no registration access token is handed out.
    expect(answer.body).not.toHaveProperty('registration_access_token');
    await loginWorks(managed.issuer, { ...(answer.body as { client_id: string; client_secret: string }), redirect_uris: webRegistration.redirect_uris });

    expect((await admin(managed.issuer, 'POST', '/admin/initial-access-tokens/revoke', { initial_access_token: token })).status).toBe(204);
    expect((await register(managed.issuer, token, webRegistration)).status).toBe(401);
    expect((await admin(managed.issuer, 'POST', '/admin/initial-access-tokens/revoke', { initial_access_token: token })).status).toBe(404);
  });

  it('a client registered with a token is sent on to its post_logout_redirect_uri, a logout with no login too', async () => {
    const token = (await admin(managed.issuer, 'POST', '/admin/initial-access-tokens', {})).body.initial_access_token as string;
    const postLogoutUri = 'https://news.example/bye';
    const answer = await register(managed.issuer, token, { ...webRegistration, post_logout_redirect_uris: [postLogoutUri] });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body).not.toHaveProperty('registered_openly');
    const { leftTo } = await new TestBrowser(managed.issuer).logOutUnasked({ client_id: answer.body.client_id as string, post_logout_redirect_uri: postLogoutUri, state: 'st' });
    expect(leftTo?.href).toBe(`${postLogoutUri}?state=st`);
  });

  it('an issued token is good for one registration by default, and for max_uses ones, in parallel too', async () => {
    const single = (await admin(managed.issuer, 'POST', '/admin/initial-access-tokens', {})).body;
    expect(single.max_uses).toBe(1);
    expect((await register(managed.issuer, single.initial_access_token as string, webRegistration)).status).toBe(201);
    expect((await register(managed.issuer, single.initial_access_token as string, webRegistration)).status).toBe(401);

    const three = (await admin(managed.issuer, 'POST', '/admin/initial-access-tokens', { max_uses: 3 })).body;
    const statuses = await Promise.all(Array.from({ length: 10 }, async () => (await register(managed.issuer, three.initial_access_token as string, webRegistration)).status));
    expect(statuses.filter((status) => status === 201)).toHaveLength(3);
    expect(statuses.filter((status) => status === 401)).toHaveLength(7);
  });

  it('a registration refused for its metadata, or for a token used up meanwhile, uses nothing: the corrected one gets through', async () => {
    const single = (await admin(managed.issuer, 'POST', '/admin/initial-access-tokens', {})).body.initial_access_token as string;
    const refused = await register(managed.issuer, single, { ...webRegistration, redirect_uris: ['not a url'] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_redirect_uri');
    expect((await register(managed.issuer, single, webRegistration)).status).toBe(201);
    expect((await register(managed.issuer, single, webRegistration)).status).toBe(401);

    // One use left, asked for by a bad and a good registration at once: whichever order, the good one gets it.
    const another = (await admin(managed.issuer, 'POST', '/admin/initial-access-tokens', {})).body.initial_access_token as string;
    const [bad, good] = await Promise.all([register(managed.issuer, another, { ...webRegistration, redirect_uris: ['not a url'] }), register(managed.issuer, another, webRegistration)]);
    expect(bad.status).toBe(400);
    // The good one got the use at once, or was refused while the bad one held it and gets it now: one client either way.
    const after = await register(managed.issuer, another, webRegistration);
    expect([good.status, after.status].sort()).toEqual([201, 401]);
  });

  it('refuses a made-up token and a bad request for one', async () => {
    expect((await register(managed.issuer, 'made-up-token', webRegistration)).status).toBe(401);
    const bad = await admin(managed.issuer, 'POST', '/admin/initial-access-tokens', { expires_in: 10 });
    expect(bad.status).toBe(400);
    expect(bad.body.error_description).toMatch(/^expires_in: /);
  });

  it('the broker with a static token issues none', async () => {
    const answer = await admin(tb.issuer, 'POST', '/admin/initial-access-tokens', {});
    expect(answer.status).toBe(409);
    expect(answer.body.error).toBe('registration_disabled');
  });
});

describe('with registration off (the default)', () => {
  it('there is no registration endpoint', async () => {
    const off = await startTestBroker({}, 'registration-off');
    const metadata = (await (await fetch(`${off.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.registration_endpoint).toBeUndefined();
    expect((await register(off.issuer, IAT, webRegistration)).status).toBe(404);
  });
});
