import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { startFinnishTrustNetworkSimulator } from '../../providers/fi-ftn/simulator/index.js';
import { startMitIdSimulator } from '../../providers/dk-mitid/simulator/index.js';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { startTestBroker, webClient } from '../support/broker.js';
import { RelyingParty } from '../support/relying-party.js';
import { findFreePort } from '../support/redis.js';
import { actAtUpstream, startUpstreamTestBed, type UpstreamEidUnderTest, type UpstreamTestBed } from '../support/upstream.js';

const norway: UpstreamEidUnderTest = {
  id: 'no-bankid',
  start: startNorwegianBankIdSimulator,
  tokenEndpointAuthMethod: 'client_secret_basic',
  settings: { nnin: true, contact_details: ['email', 'phone', 'address'] },
};
const finland: UpstreamEidUnderTest = { id: 'fi-ftn', start: startFinnishTrustNetworkSimulator, tokenEndpointAuthMethod: 'private_key_jwt' };
const denmark: UpstreamEidUnderTest = { id: 'dk-mitid', start: startMitIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { cpr: true } };

const SCOPE = 'openid profile personal_number eid';
let bed: UpstreamTestBed;

beforeAll(async () => {
  bed = await startUpstreamTestBed('upstream', [norway, finland, denmark]);
});

/** Starts a login for `acr` and lands on the upstream's person picker. */
async function atUpstream(acr: string, params: Record<string, string> = {}, testBed = bed) {
  const { response, leftTo } = await testBed.rp.authorize({ acr_values: acr, scope: SCOPE, ...params });
  if (leftTo) throw new Error(`the login ended early at ${leftTo.href}`);
  return response;
}

describe.each([
  {
    eid: 'no-bankid',
    acr: 'urn:nordic-eid:no:bankid',
    person: 1,
    claims: { acr: 'urn:nordic-eid:no:bankid', personal_number: '45018012301', country: 'NO', given_name: 'Ola Johan', family_name: 'Hansen', birthdate: '1980-01-05', idp: 'no-bankid', idp_person_id: '9578-6000-4-1000002', amr: ['bid'] },
  },
  {
    eid: 'fi-ftn',
    acr: 'urn:nordic-eid:fi:ftn',
    person: 0,
    claims: { acr: 'urn:nordic-eid:fi:ftn', personal_number: '150385-1230', country: 'FI', given_name: 'Matti', family_name: 'Meikäläinen', birthdate: '1985-03-15', idp: 'fi-ftn' },
  },
  {
    eid: 'dk-mitid',
    acr: 'urn:nordic-eid:dk:mitid',
    person: 1,
    claims: { acr: 'urn:nordic-eid:dk:mitid:high', personal_number: '0101904567', country: 'DK', name: 'Lars Peter Nielsen', given_name: 'Lars Peter', family_name: 'Nielsen', birthdate: '1990-01-01', idp: 'dk-mitid', idp_person_id: 'a1b2c3d4-0000-4000-8000-000000000002' },
  },
])('a full OIDC login through simulated $eid, on Redis', ({ eid, acr, person, claims }) => {
  it('ends at the client with the normalized claims', async () => {
    const page = await atUpstream(acr);
    expect(new URL(page.url).origin).toBe(new URL(bed.simulators[eid]!.issuer).origin);
    const tokens = await bed.rp.redeem(await actAtUpstream(bed.rp, page, { person }));
    expect(tokens.claims()).toMatchObject(claims);
    expect(await bed.rp.userinfo(tokens.access_token, tokens.claims()!.sub)).toMatchObject({ personal_number: claims.personal_number });
  });

  it('ends at the client with access_denied when the person cancels at the eID', async () => {
    const callback = await actAtUpstream(bed.rp, await atUpstream(acr), 'cancel');
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(bed.rp.flow.state);
  });

  it('is started through the frontend JSON API with a redirectTo to the upstream', async () => {
    const { response } = await bed.rp.authorize({ scope: SCOPE });
    const uid = /\/interaction\/([^/?]+)/.exec(response.url)![1]!;
    const started = await bed.rp.browser.request(`/interaction/${uid}/api/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eid }),
    });
    const { redirectTo } = (await started.json()) as { redirectTo: string };
    expect(new URL(redirectTo).origin).toBe(new URL(bed.simulators[eid]!.issuer).origin);
  });

  it('publishes the public half of its keys at /eid/<id>/jwks.json', async () => {
    const jwks = (await (await fetch(`${bed.tb.issuer}/eid/${eid}/jwks.json`)).json()) as { keys: Array<Record<string, string>> };
    expect(jwks.keys.map((key) => key.use).sort()).toEqual(['enc', 'sig']);
    expect(jwks.keys.every((key) => key.d === undefined && key.p === undefined)).toBe(true);
  });
});

describe('what each eID asks of its upstream', () => {
  it('FTN: a signed request object as the only parameter', async () => {
    const { leftTo, response } = await bed.rp.authorize({ acr_values: 'urn:nordic-eid:fi:ftn' });
    expect(leftTo).toBeUndefined();
    // The browser went through the upstream's /auth: find it in the broker's redirect.
    const start = await bed.rp.browser.request(await bed.rp.authorizationUrl({ acr_values: 'urn:nordic-eid:fi:ftn' }));
    const interaction = await bed.rp.browser.request(start.headers.get('location')!);
    const upstream = new URL(interaction.headers.get('location')!);
    expect([...upstream.searchParams.keys()]).toEqual(['request']);
    expect(upstream.searchParams.get('request')!.split('.')).toHaveLength(3);
    expect(response.status).toBe(200);
  });

  it('Norwegian BankID: a login_hint BIS goes through with the matching BankID acr', async () => {
    const start = await bed.rp.browser.request(await bed.rp.authorizationUrl({ acr_values: 'urn:nordic-eid:no:bankid', login_hint: 'BIS', ui_locales: 'nb' }));
    const interaction = await bed.rp.browser.request(start.headers.get('location')!);
    const upstream = new URL(interaction.headers.get('location')!);
    expect(upstream.searchParams.get('login_hint')).toBe('BIS');
    expect(upstream.searchParams.get('acr_values')).toBe('urn:bankid:bis');
    expect(upstream.searchParams.get('ui_locales')).toBe('nb');
    expect(upstream.searchParams.get('code_challenge_method')).toBe('S256');
  });

  it("Norwegian BankID: the person's email, phone and address from userinfo, when BankID has them", async () => {
    const scope = 'openid email phone address';
    const kari = await bed.rp.redeem(await actAtUpstream(bed.rp, await atUpstream('urn:nordic-eid:no:bankid', { scope }), { person: 0 }));
    const contact = {
      email: 'kari.nordmann@example.no',
      phone_number: '+4748058567',
      address: { formatted: 'Storgata 1A\n0155 Oslo\nNorge', street_address: 'Storgata 1A', postal_code: '0155', locality: 'Oslo', country: 'NO' },
    };
    expect(kari.claims()).toMatchObject(contact);
    expect(await bed.rp.userinfo(kari.access_token, kari.claims()!.sub)).toEqual({ sub: kari.claims()!.sub, ...contact });

    const ola = await bed.rp.redeem(await actAtUpstream(bed.rp, await atUpstream('urn:nordic-eid:no:bankid', { scope }), { person: 1 }));
    for (const claim of Object.keys(contact)) expect(ola.claims()).not.toHaveProperty(claim);
  });

  /** Where the broker sends a browser whose login asks for MitID with `ui_locales`. */
  async function toMitId(uiLocales: string) {
    const start = await bed.rp.browser.request(await bed.rp.authorizationUrl({ acr_values: 'urn:nordic-eid:dk:mitid:high', ui_locales: uiLocales }));
    const interaction = await bed.rp.browser.request(start.headers.get('location')!);
    return new URL(interaction.headers.get('location')!);
  }

  it('MitID: the level asked for goes to the broker as idp_params, and the language as `language` and ui_locales', async () => {
    const upstream = await toMitId('da');
    expect(JSON.parse(upstream.searchParams.get('idp_params')!)).toEqual({ mitid: { loa_value: 'high' } });
    expect(upstream.searchParams.get('language')).toBe('da');
    expect(upstream.searchParams.get('ui_locales')).toBe('da');
    expect(upstream.searchParams.get('scope')).toBe('openid mitid ssn');
    // A language MitID does not speak: English for `language`, the person's first in ui_locales.
    const swedish = await toMitId('sv');
    expect([swedish.searchParams.get('language'), swedish.searchParams.get('ui_locales')]).toEqual(['en', 'sv en']);
  });
});

describe('MitID levels of assurance and protected names', () => {
  it('a level below the one asked for → insufficient_scope', async () => {
    const callback = await actAtUpstream(bed.rp, await atUpstream('urn:nordic-eid:dk:mitid:high'), { person: 0 });
    expect(callback.searchParams.get('error')).toBe('insufficient_scope');
  });

  it('a low level when none was asked for → insufficient_scope (substantial is the floor)', async () => {
    const callback = await actAtUpstream(bed.rp, await atUpstream('urn:nordic-eid:dk:mitid'), { person: 3 });
    expect(callback.searchParams.get('error')).toBe('insufficient_scope');
  });

  it('a person with name and address protection logs in without a name', async () => {
    const tokens = await bed.rp.redeem(await actAtUpstream(bed.rp, await atUpstream('urn:nordic-eid:dk:mitid:substantial'), { person: 2 }));
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ acr: 'urn:nordic-eid:dk:mitid:substantial', birthdate: '2005-02-23' });
    expect(claims.name).toBeUndefined();
    expect(JSON.stringify(claims)).not.toContain('ADRESSEBESKYTTET');
  });
});

/**
 * The person at the upstream answers on its page; the browser stops at the way back to the
 * broker, as an attacker holding the response would: the broker's callback URL, not yet opened.
 */
async function answerAtUpstream(page: Response): Promise<URL> {
  const upstreamOrigin = new URL(page.url).origin;
  const html = await page.text();
  const action = /<form method="post" action="([^"]+\/login)">/.exec(html)![1]!;
  const person = /name="person" value="([^"]+)"/.exec(html)![1]!;
  const answered = await bed.rp.browser.request(new URL(action, upstreamOrigin), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: upstreamOrigin },
    body: new URLSearchParams({ person }).toString(),
  });
  const callbackUrl = new URL((await bed.rp.browser.request(answered.headers.get('location')!)).headers.get('location')!);
  expect(callbackUrl.pathname).toMatch(/^\/eid\/[^/]+\/callback$/);
  return callbackUrl;
}

describe('an answer returned twice', () => {
  it('while the first return still exchanges its code (a reload): the second follows its outcome to the client, once', async () => {
    const callbackUrl = await answerAtUpstream(await atUpstream('urn:nordic-eid:no:bankid'));
    const { faults } = bed.simulators['no-bankid']!;
    let tokenRequested!: () => void;
    const tokenRequest = new Promise<void>((resolve) => (tokenRequested = resolve));
    Object.defineProperty(faults, 'tokenDelayMs', {
      configurable: true,
      get: () => {
        tokenRequested();
        return 700;
      },
    });
    try {
      const first = bed.rp.browser.request(callbackUrl);
      await tokenRequest;
      const second = await bed.rp.browser.follow(callbackUrl, { headers: { accept: 'text/html' } });
      expect(second.leftTo?.searchParams.get('code')).toBeTruthy();
      expect((await bed.rp.redeem(second.leftTo!)).claims()).toMatchObject({ personal_number: '15038512363' });

      // The first return's answer, had the browser followed it after all, makes no second login.
      const firstAnswer = await first;
      expect(firstAnswer.status).toBe(303);
      const followed = await bed.rp.browser.follow(firstAnswer.headers.get('location')!, { headers: { accept: 'text/html' } });
      expect(followed.leftTo).toBeUndefined();
      expect(followed.response.status).toBeGreaterThanOrEqual(400);
    } finally {
      Object.defineProperty(faults, 'tokenDelayMs', { configurable: true, writable: true, value: 0 });
    }
  });
});

describe('responses the broker must refuse', () => {
  it('a replayed authorization response (same state) finishes no login again', async () => {
    const callbackUrl = await answerAtUpstream(await atUpstream('urn:nordic-eid:no:bankid'));
    const { leftTo } = await bed.rp.browser.follow(callbackUrl);
    expect(leftTo?.searchParams.get('code')).toBeTruthy();
    // The login is over: the replay's way leads to its page saying so, not to the client with a code.
    const replay = await bed.rp.browser.follow(callbackUrl, { headers: { accept: 'text/html' } });
    expect(replay.leftTo).toBeUndefined();
    expect(replay.response.status).toBe(400);
  });

  it("an upstream's answer to one person's login, opened in another person's browser, finishes neither login there", async () => {
    const callbackUrl = await answerAtUpstream(await atUpstream('urn:nordic-eid:no:bankid'));

    // Someone else, in the middle of a login of their own, is sent the first person's answer.
    const other = await RelyingParty.discover(bed.tb.issuer, webClient);
    const ownLogin = await other.authorize({ acr_values: 'urn:nordic-eid:no:bankid', scope: SCOPE });
    expect(ownLogin.leftTo?.pathname).toBe('/auth');
    const { leftTo, response } = await other.browser.follow(callbackUrl, { headers: { accept: 'text/html' } });
    expect(leftTo).toBeUndefined();
    expect(response.status).toBeGreaterThanOrEqual(400);

    // The answer was parked for its own login, whose page the other browser cannot open; the
    // first person's browser, which holds that login, still finishes it.
    expect(new URL(response.url).pathname).toMatch(/^\/interaction\/[^/]+\/complete$/);
    const own = await bed.rp.browser.follow(response.url);
    expect(own.leftTo?.searchParams.get('code')).toBeTruthy();
  });

  it('an ID token with another nonce → server_error, never a login', async () => {
    bed.simulators['no-bankid']!.faults.replaceNonce = 'a-nonce-the-broker-never-sent';
    try {
      const callback = await actAtUpstream(bed.rp, await atUpstream('urn:nordic-eid:no:bankid'), { person: 0 });
      expect(callback.searchParams.get('error')).toBe('server_error');
      expect(callback.searchParams.get('code')).toBeNull();
    } finally {
      delete bed.simulators['no-bankid']!.faults.replaceNonce;
    }
  });

  it('an upstream that answers slower than the timeout → server_error', async () => {
    bed.simulators['dk-mitid']!.faults.tokenDelayMs = 3_000;
    try {
      const callback = await actAtUpstream(bed.rp, await atUpstream('urn:nordic-eid:dk:mitid'), { person: 0 });
      expect(callback.searchParams.get('error')).toBe('server_error');
    } finally {
      bed.simulators['dk-mitid']!.faults.tokenDelayMs = 0;
    }
  });
});

describe('an ID token signed by a key the upstream does not publish', () => {
  it('→ server_error', async () => {
    const forged = await startUpstreamTestBed('upstream-forged', [norway]);
    forged.simulators['no-bankid']!.faults.foreignSigningKeys = true;
    const callback = await actAtUpstream(forged.rp, await atUpstream('urn:nordic-eid:no:bankid', {}, forged), { person: 0 });
    expect(callback.searchParams.get('error')).toBe('server_error');
  });
});

describe('an FTN ID token encrypted to a key the broker does not hold', () => {
  it('→ server_error', async () => {
    const misdirected = await startUpstreamTestBed('upstream-wrong-enc', [finland], async (jwks) => {
      const { publicKey } = await generateKeyPair('RSA-OAEP-256', { extractable: true });
      const stranger = await exportJWK(publicKey);
      const enc = { ...stranger, alg: 'RSA-OAEP-256', use: 'enc', kid: await calculateJwkThumbprint(stranger) };
      return { keys: [...jwks.keys.filter((key) => key.use === 'sig'), enc] };
    });
    const callback = await actAtUpstream(misdirected.rp, await atUpstream('urn:nordic-eid:fi:ftn', {}, misdirected), { person: 0 });
    expect(callback.searchParams.get('error')).toBe('server_error');
  });
});

describe('an upstream that is down', () => {
  it('ends the login with server_error, and the other eIDs keep working', async () => {
    const closedPort = await findFreePort();
    const tb = await startTestBroker(
      {
        eids: {
          'no-bankid': { mode: 'custom', issuer: `http://127.0.0.1:${closedPort}`, client_id: 'x', client_secret: 'y', timeout: 1_000 },
          'test-double': {},
        },
      },
      'upstream-down',
    );
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const { leftTo } = await rp.authorize({ acr_values: 'urn:nordic-eid:no:bankid' });
    expect(leftTo?.searchParams.get('error')).toBe('server_error');
    const other = await rp.authorize({ acr_values: 'urn:test:test-double' });
    expect(other.response.url).toContain('/test-double/decide');
  });
});
