import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  tb = await startTestBroker({}, 'login');
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

describe('a full login through the test-double eID, on Redis', () => {
  it('returns a code that yields the normalized identity in the ID token and userinfo', async () => {
    const callback = await logIn(rp);
    expect(callback.origin + callback.pathname).toBe('https://rp.example/callback');
    expect(callback.searchParams.get('iss')).toBe(tb.issuer);

    const tokens = await rp.redeem(callback);
    const idToken = tokens.claims()!;
    expect(idToken).toMatchObject({
      iss: tb.issuer,
      aud: webClient.client_id,
      acr: 'urn:test:test-double',
      amr: ['test'],
      name: 'Tessa Testsson',
      given_name: 'Tessa',
      family_name: 'Testsson',
      birthdate: '1981-12-18',
      personal_number: '198112189876',
      country: 'SE',
      idp: 'test-double',
      idp_request_id: 'req-1',
    });
    expect(idToken.sub).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(idToken.sub).not.toContain('198112189876');
    expect(idToken.identification_date).toEqual(expect.any(String));

    const userinfo = await rp.userinfo(tokens.access_token, idToken.sub);
    expect(userinfo).toMatchObject({ sub: idToken.sub, name: 'Tessa Testsson', personal_number: '198112189876', idp: 'test-double' });
  });
});
