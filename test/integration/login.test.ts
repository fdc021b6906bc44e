import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

const pairwiseClient = {
  client_id: 'pairwise-app',
  client_secret: 'a-secret-for-the-pairwise-client-long-enough',
  redirect_uris: ['https://pairwise.example/callback'],
  subject_type: 'pairwise' as const,
};

let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  tb = await startTestBroker({ clients: [webClient, pairwiseClient] }, 'login');
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

describe('a full login through the test-double eID, on Redis', () => {
  it('gives one person the same sub at every login, and a pairwise client its own sub', async () => {
    const first = (await rp.redeem(await logIn(rp))).claims()!.sub;
    const second = (await rp.redeem(await logIn(rp))).claims()!.sub;
    expect(second).toBe(first);

    const pairwiseRp = await RelyingParty.discover(tb.issuer, pairwiseClient);
    const pairwise = (await pairwiseRp.redeem(await logIn(pairwiseRp))).claims()!.sub;
    expect(pairwise).not.toBe(first);
    expect((await pairwiseRp.redeem(await logIn(pairwiseRp))).claims()!.sub).toBe(pairwise);
  });

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
