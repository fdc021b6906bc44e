import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../../../test/support/broker.js';
import { auditStream, capturingLog } from '../../../test/support/ops.js';
import { findFreePort } from '../../../test/support/redis.js';
import { RelyingParty } from '../../../test/support/relying-party.js';
import { simulatedBanks } from '../simulator/people.js';
import { startCzechBankIdSimulator, type CzechBankIdSimulator } from '../simulator/server.js';

const ACR = 'urn:nordic-eid:cz:bankid';
const SCOPE = 'openid profile personal_number eid address';
const CLIENT_ID = '7f6e5d4c-3b2a-4190-8a7b-6c5d4e3f2a10';
const CLIENT_SECRET = 'the-broker-s-secret-at-the-simulated-bank-id';
const [BANK, , BROKEN_BANK, UNAVAILABLE_BANK] = simulatedBanks;

const captured = capturingLog();
let simulator: CzechBankIdSimulator;
let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  const port = await findFreePort();
  const issuer = `http://127.0.0.1:${port}`;
  simulator = await startCzechBankIdSimulator({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uri: `${issuer}/eid/cz-bankid/callback` });
  tb = await startTestBroker(
    {
      issuer,
      port,
      log: { level: 'info' },
      eids: {
        'cz-bankid': { mode: 'custom', issuer: simulator.issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, address: true, timeout: 1_500 },
        // A second eID, so that a login without acr_values shows the picker.
        'test-double': {},
      },
    },
    'cz-bankid',
    { log: captured.log },
  );
  rp = await RelyingParty.discover(tb.issuer, webClient);
  rp.browser.alsoFollows.add(new URL(simulator.issuer).origin);
  return () => simulator.close();
});

/** Starts a login for Bank iD and lands on the simulated Bank iD's page. */
async function atBankId(params: Record<string, string> = {}) {
  const { response, leftTo } = await rp.authorize({ acr_values: ACR, scope: SCOPE, ...params });
  if (leftTo) throw new Error(`the login ended early at ${leftTo.href}`);
  expect(new URL(response.url).origin).toBe(new URL(simulator.issuer).origin);
  return response;
}

/** The person's choice on Bank iD's page; returns where the browser lands back at the client. */
async function decide(choice: { person: string; bank?: string; decision?: 'approve' | 'decline' }, page?: Response): Promise<URL> {
  const at = page ?? (await atBankId());
  await at.text();
  const { leftTo, response } = await rp.browser.submit(new URL('/auth/decision', simulator.issuer), {
    bank: choice.bank ?? BANK!.id,
    person: choice.person,
    decision: choice.decision ?? 'approve',
  });
  if (!leftTo) throw new Error(`the login did not return to the client: ${response.status} ${response.url}\n${await response.text()}`);
  return leftTo;
}

/** The upstream authorization request the broker sends the browser to. */
async function upstreamRequest(params: Record<string, string> = {}): Promise<URL> {
  const start = await rp.browser.request(await rp.authorizationUrl({ acr_values: ACR, ...params }));
  const interaction = await rp.browser.request(start.headers.get('location')!);
  return new URL(interaction.headers.get('location')!);
}

describe('a full login through the simulated Czech Bank iD, openid-client as the relying party', () => {
  it('ends at the client with the birth number as personal number, its date of birth, names and Bank iD sub', async () => {
    const tokens = await rp.redeem(await decide({ person: 'cz-petra' }));
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      acr: ACR,
      amr: ['pwd', 'otp'],
      personal_number: '9053024563',
      country: 'CZ',
      given_name: 'Petra',
      family_name: 'Dvořáková',
      name: 'Petra Dvořáková',
      birthdate: '1990-03-02',
      idp: 'cz-bankid',
      address: { street_address: 'Lipová 812/4', postal_code: '60200', locality: 'Brno', country: 'CZ' },
    });
    expect(claims.idp_person_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await rp.userinfo(tokens.access_token, claims.sub)).toMatchObject({ personal_number: '9053024563', country: 'CZ' });
  });

  it('takes the date of birth from a nine-digit birth number (born before 1954) and one with month + 20', async () => {
    const marie = (await rp.redeem(await decide({ person: 'cz-marie' }))).claims()!;
    expect(marie).toMatchObject({ personal_number: '455101123', birthdate: '1945-01-01' });
    const tomas = (await rp.redeem(await decide({ person: 'cz-tomas' }))).claims()!;
    expect(tomas).toMatchObject({ personal_number: '1025057891', birthdate: '2010-05-05', given_name: 'Tomáš' });
  });

  it('joins the middle name to the given name', async () => {
    const jan = (await rp.redeem(await decide({ person: 'cz-jan' }))).claims()!;
    expect(jan).toMatchObject({ given_name: 'Jan Tomáš', family_name: 'Novák', personal_number: '8507151235' });
  });

  it('asks Bank iD for loa3 with PKCE S256, its profile scopes, a fresh login, a trace id and a language it has', async () => {
    // Bank iD's pages are Czech or English: the person's language first, then English, which Bank iD has.
    const upstream = await upstreamRequest({ ui_locales: 'fi' });
    expect(upstream.origin).toBe(new URL(simulator.issuer).origin);
    expect(upstream.searchParams.get('acr_values')).toBe('loa3');
    expect(upstream.searchParams.get('prompt')).toBe('login');
    expect(upstream.searchParams.get('code_challenge_method')).toBe('S256');
    expect(upstream.searchParams.get('scope')!.split(' ').sort()).toEqual(['openid', 'profile.addresses', 'profile.birthdate', 'profile.birthnumber', 'profile.name']);
    expect(upstream.searchParams.get('ui_locales')).toBe('fi en');
    expect(upstream.searchParams.get('trace_id')).toMatch(/^[a-zA-Z0-9]{32}$/);
    expect((await upstreamRequest()).searchParams.get('trace_id')).not.toBe(upstream.searchParams.get('trace_id'));
  });

  it('keeps Bank iD’s traceId of the token and profile calls in the log, and never the birth number in clear', async () => {
    await rp.redeem(await decide({ person: 'cz-jan' }));
    const traced = captured.lines().filter((line) => /^[a-zA-Z0-9]{16}$/.test(String((line.upstreamHeaders as { traceId?: string } | undefined)?.traceId)));
    expect(traced.map((line) => line.upstreamCall)).toEqual(expect.arrayContaining(['/token', '/profile']));
    expect(captured.text()).not.toContain('8507151235');
    expect(captured.text()).not.toContain('9053024563');
  });

  it('audits the birth number masked: its date part readable, the suffix hidden', async () => {
    await rp.redeem(await decide({ person: 'cz-jan' }));
    await tb.broker.audit.flush();
    const events = await auditStream(tb.prefix);
    const login = events.filter((event) => event.personal_number).at(-1)!;
    expect(login.personal_number).toBe('850715****');
    expect(JSON.stringify(events)).not.toContain('8507151235');
  });
});

describe('when Bank iD rotates its signing key', () => {
  // Before any test below makes the broker fetch Bank iD's keys again, which it does at most every few seconds.
  it('the next login succeeds (same kid, new key material), with one more fetch of its JWKS', async () => {
    const fetched = simulator.jwksRequests;
    await simulator.rotateSigningKey({ sameKid: true });
    const tokens = await rp.redeem(await decide({ person: 'cz-petra' }));
    expect(tokens.claims()).toMatchObject({ acr: ACR, personal_number: '9053024563' });
    expect(simulator.jwksRequests).toBe(fetched + 1);
  });
});

describe('on the picker', () => {
  it.each([
    ['en', 'Czechia', 'Bank iD (Czechia)'],
    ['sv', 'Tjeckien', 'Bank iD (Tjeckien)'],
    ['nb', 'Tsjekkia', 'Bank iD (Tsjekkia)'],
    ['fi', 'Tšekki', 'Bank iD (Tšekki)'],
    ['da', 'Tjekkiet', 'Bank iD (Tjekkiet)'],
  ])('in %s, Bank iD is named under its country, from the texts in its folder', async (locale, country, name) => {
    const { response } = await rp.authorize({ scope: SCOPE, ui_locales: locale });
    const html = await response.text();
    expect(html).toContain(`<legend>${country}</legend>`);
    expect(html).toContain(`value="cz-bankid" class="eid">${name}</button>`);
  });
});

describe('what Bank iD answers instead of a person', () => {
  it.each([
    [{ person: 'cz-jan', decision: 'decline' as const }, 'access_denied'],
    [{ person: 'cz-inactive' }, 'eid_doesnt_exist'],
    [{ person: 'cz-not-eligible' }, 'insufficient_scope'],
    [{ person: 'cz-jan', bank: BROKEN_BANK!.id }, 'server_error'],
    [{ person: 'cz-jan', bank: UNAVAILABLE_BANK!.id }, 'server_error'],
  ])('an error callback for %j ends at the client as %s', async (choice, error) => {
    const callback = await decide(choice);
    expect(callback.searchParams.get('error')).toBe(error);
    expect(callback.searchParams.get('state')).toBe(rp.flow.state);
    expect(callback.searchParams.get('code')).toBeNull();
  });

  it('logs the error Bank iD sent, with the trace_id the broker gave the login', async () => {
    const page = await atBankId();
    const traceId = new URL(page.url).searchParams.get('trace_id');
    await decide({ person: 'cz-jan', bank: BROKEN_BANK!.id }, page);
    const line = captured.lines().find((entry) => entry.upstreamError === 'server_error' && (entry.upstreamParameters as { trace_id?: string } | undefined)?.trace_id === traceId);
    expect(line).toBeDefined();
  });

  it('a person without a Czech birth number (a foreign national) → insufficient_scope', async () => {
    const callback = await decide({ person: 'cz-anna' });
    expect(callback.searchParams.get('error')).toBe('insufficient_scope');
    expect(callback.searchParams.get('error_description')).toMatch(/birth number/);
  });

  it('a /profile missing the birth number → insufficient_scope, never a login without it', async () => {
    simulator.faults.profileWithoutBirthNumber = true;
    try {
      const callback = await decide({ person: 'cz-petra' });
      expect(callback.searchParams.get('error')).toBe('insufficient_scope');
      expect(callback.searchParams.get('code')).toBeNull();
    } finally {
      simulator.faults.profileWithoutBirthNumber = false;
    }
  });

  it.each([
    ['an ID token signed with a key Bank iD does not publish', (faults: CzechBankIdSimulator['faults']) => (faults.foreignSigningKeys = true)],
    ['an ID token with another nonce', (faults: CzechBankIdSimulator['faults']) => (faults.replaceNonce = 'a-nonce-the-broker-never-sent')],
    ['a token endpoint slower than the timeout', (faults: CzechBankIdSimulator['faults']) => (faults.tokenDelayMs = 3_000)],
  ])('%s → server_error, never a login', async (_what, fault) => {
    fault(simulator.faults);
    try {
      const callback = await decide({ person: 'cz-jan' });
      expect(callback.searchParams.get('error')).toBe('server_error');
      expect(callback.searchParams.get('code')).toBeNull();
    } finally {
      Object.assign(simulator.faults, { foreignSigningKeys: false, tokenDelayMs: 0, replaceNonce: undefined });
    }
  });

  it('Bank iD down after the person approved (503 from the token endpoint) → server_error', async () => {
    const request = /name="request" value="([^"]+)"/.exec(await (await atBankId()).text())![1]!;
    // Stop at the broker's callback, take Bank iD down, then let the browser arrive.
    const approved = await rp.browser.request(new URL('/auth/decision', simulator.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(simulator.issuer).origin },
      body: new URLSearchParams({ request, bank: BANK!.id, person: 'cz-jan', decision: 'approve' }),
    });
    const callbackUrl = new URL(approved.headers.get('location')!);
    expect(callbackUrl.pathname).toBe('/eid/cz-bankid/callback');
    simulator.faults.unavailable = true;
    try {
      const { leftTo } = await rp.browser.follow(callbackUrl);
      expect(leftTo?.searchParams.get('error')).toBe('server_error');
      expect(leftTo?.searchParams.get('code')).toBeNull();
    } finally {
      simulator.faults.unavailable = false;
    }
  });
});

describe('in simulator mode', () => {
  it('starts its simulator with the broker registered (client_secret_post) and logs a person in', async () => {
    const simulated = await startTestBroker({ eids: { 'cz-bankid': { mode: 'simulator' } } }, 'cz-bankid-simulated');
    const client = await RelyingParty.discover(simulated.issuer, webClient);
    // The broker sends the browser to its simulator, on a port of its own; follow it there.
    const { leftTo: upstream } = await client.authorize({ acr_values: ACR, scope: SCOPE });
    client.browser.alsoFollows.add(upstream!.origin);
    await (await client.browser.follow(upstream!)).response.text();
    const { leftTo } = await client.browser.submit(new URL('/auth/decision', upstream!.origin), { bank: BANK!.id, person: 'cz-petra', decision: 'approve' });
    expect((await client.redeem(leftTo!)).claims()).toMatchObject({ acr: ACR, personal_number: '9053024563', country: 'CZ' });
  });
});
