import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { capturingLog } from '../support/ops.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

/**
 * The claims relying parties ask for beyond the identity: the person's age, and age checks a
 * client can have without learning the birth date — by the age_verification scope, or one by
 * one through the claims parameter. Tessa Testsson was born on 1981-12-18.
 */

let tb: TestBroker;
let rp: RelyingParty;
const { log, lines: logLines } = capturingLog();

beforeAll(async () => {
  tb = await startTestBroker({}, 'claims', { log });
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

const ageOfTessa = (now = new Date()) => now.getUTCFullYear() - 1981 - (now.toISOString().slice(5, 10) >= '12-18' ? 0 : 1);

async function claimsFor(params: Record<string, string>) {
  const tokens = await rp.redeem(await logIn(rp, params));
  const userinfo = await rp.userinfo(tokens.access_token, tokens.claims()!.sub);
  return { idToken: tokens.claims()!, userinfo };
}

describe('age claims', () => {
  it('scope age_verification: every age check, and neither the birth date, the age nor the name', async () => {
    const { idToken, userinfo } = await claimsFor({ scope: 'openid age_verification' });
    const expected = { age_over_13: true, age_over_15: true, age_over_16: true, age_over_18: true, age_over_20: true, age_over_21: true, age_over_65: ageOfTessa() >= 65 };
    expect(idToken).toMatchObject(expected);
    expect(userinfo).toMatchObject(expected);
    for (const claims of [idToken, userinfo]) {
      for (const withheld of ['birthdate', 'age', 'name', 'personal_number']) expect(claims).not.toHaveProperty(withheld);
    }
  });

  it('the claims parameter: age_over_18 alone, in the ID token', async () => {
    const { idToken, userinfo } = await claimsFor({ scope: 'openid', claims: JSON.stringify({ id_token: { age_over_18: { essential: true } } }) });
    expect(idToken.age_over_18).toBe(true);
    expect(Object.keys(idToken).filter((claim) => claim.startsWith('age'))).toEqual(['age_over_18']);
    expect(userinfo).not.toHaveProperty('age_over_18');
  });

  it('scope profile: the age in years', async () => {
    const { idToken } = await claimsFor({ scope: 'openid profile' });
    expect(idToken).toMatchObject({ age: ageOfTessa(), birthdate: '1981-12-18' });
  });

  it('an acr demanded through the claims parameter is refused, nested in verified_claims too: acr_values choose the eID', async () => {
    const demands = [{ acr: { essential: true, values: ['urn:test:test-double'] } }, { verified_claims: { claims: { acr: { value: 'urn:test:test-double' } } } }];
    for (const idToken of demands) {
      const { leftTo } = await rp.authorize({ claims: JSON.stringify({ id_token: idToken }) });
      expect(leftTo?.searchParams.get('error')).toBe('invalid_request');
      expect(leftTo?.searchParams.get('error_description')).toContain('acr_values');
    }
  });
});

describe('a claims parameter nested thousands of levels deep', () => {
  /**
   * A request for given_name with a value nested `levels` deep, in brackets: written as they are
   * (URLs and forms take them so), it fits in an authorization URL's 16 KiB of headers.
   */
  const deeplyNested = (levels: number) => `{"id_token":{"given_name":{"value":${'['.repeat(levels)}${']'.repeat(levels)}}}}`;
  const LEVELS = 7_000;
  const basicCredentials = Buffer.from(`${webClient.client_id}:${encodeURIComponent(webClient.client_secret)}`).toString('base64');

  it('in an authorization URL: the client gets invalid_request before the eID runs', async () => {
    const url = `${(await rp.authorizationUrl()).href}&claims=${deeplyNested(LEVELS)}`;
    const { leftTo, response } = await rp.browser.follow(url);
    expect(leftTo?.searchParams.get('error'), `stayed at ${response.url}`).toBe('invalid_request');
    expect(leftTo?.searchParams.get('error_description')).toContain('nested more than');
  });

  it('in a pushed authorization request: invalid_request, not a 500', async () => {
    const request = new URLSearchParams({ client_id: webClient.client_id, response_type: 'code', redirect_uri: webClient.redirect_uris[0]!, scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    const response = await fetch(`${tb.issuer}/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basicCredentials}` },
      body: `${request}&claims=${deeplyNested(LEVELS)}`,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('nested more than') });
  });

  it('in a request object in an authorization URL, signed or not: invalid_request before oidc-provider reads it, not a 500', async () => {
    // Base64url takes a third more room: fewer levels fit in the URL.
    const payload = `{"iss":"${webClient.client_id}","aud":"${tb.issuer}","response_type":"code","claims":${deeplyNested(5_500)}}`;
    const requestObject = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(payload).toString('base64url')}.`;
    const response = await fetch(`${tb.issuer}/auth?client_id=${webClient.client_id}&response_type=code&request=${requestObject}`, { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('nested more than') });
  });

  it('in a request object in a pushed authorization request: invalid_request, not a 500, and no server error logged', async () => {
    const payload = `{"iss":"${webClient.client_id}","aud":"${tb.issuer}","response_type":"code","claims":${deeplyNested(LEVELS)}}`;
    const requestObject = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(payload).toString('base64url')}.`;
    const logged = logLines().length;
    const response = await fetch(`${tb.issuer}/request`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basicCredentials}` },
      body: new URLSearchParams({ client_id: webClient.client_id, request: requestObject }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('nested more than') });
    expect(logLines().slice(logged).filter((line) => Number(line.level) >= 50)).toEqual([]);
  });

  it('a claims request as deep as OpenID Connect for Identity Assurance asks for is taken', async () => {
    const verified = { verified_claims: { verification: { evidence: [{ document_details: { issuer: { country_code: { essential: true } } } }] }, claims: { given_name: null } } };
    const callback = await logIn(rp, { claims: JSON.stringify({ id_token: verified }) });
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
  });
});

describe('discovery', () => {
  it('lists every scope and claim the broker can release, and the claims parameter', async () => {
    const metadata = rp.config.serverMetadata();
    expect(metadata.claims_parameter_supported).toBe(true);
    expect(metadata.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'offline_access', 'profile', 'age_verification', 'email', 'phone', 'address', 'personal_number', 'eid']),
    );
    expect(metadata.claims_supported).toEqual(
      expect.arrayContaining([
        'sub', 'acr', 'amr', 'auth_time', 'sid', 'name', 'given_name', 'family_name', 'birthdate', 'age',
        'age_over_13', 'age_over_15', 'age_over_16', 'age_over_18', 'age_over_20', 'age_over_21', 'age_over_65',
        'email', 'phone_number', 'address', 'personal_number', 'country', 'idp', 'idp_person_id', 'idp_request_id', 'identification_date',
      ]),
    );
  });
});
