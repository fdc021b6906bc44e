import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { startFinnishTrustNetworkSimulator } from '../../providers/fi-ftn/simulator/index.js';
import { startMitIdSimulator } from '../../providers/dk-mitid/simulator/index.js';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { startCzechBankIdSimulator } from '../../providers/cz-bankid/simulator/server.js';
import { simulatedBanks } from '../../providers/cz-bankid/simulator/people.js';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection, BankIdSession } from '../../providers/se-bankid/test/support.js';
import { startFrejaSimulator } from '../../providers/se-freja/simulator/server.js';
import { frejaSection, FrejaSession } from '../../providers/se-freja/test/support.js';
import { ADMIN_TOKEN, admin } from './admin-support.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { capturingLog } from '../support/ops.js';
import { startReceiver } from '../support/receiver.js';
import { rawConnection } from '../support/http.js';
import { spawnBroker, writeConfig } from '../support/process.js';
import { deleteKeysWithPrefix, findFreePort, redisUrl, uniquePrefix } from '../support/redis.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { checkLogText, mixedFieldTypes, type LineCheck } from '../support/strict-log.js';
import { actAtUpstream, startSimulatedUpstream, type UpstreamEidUnderTest } from '../support/upstream.js';

/**
 * Every line the broker writes, read as an operator's log pipeline reads it: whole flows with
 * each eID, a refresh, a logout, the admin API, failures, at debug level. Each line must pass a
 * strict JSON parser, and none may hold what the flows handled in clear: personal numbers,
 * client secrets, codes, tokens, cookies, the admin token.
 */

const norway: UpstreamEidUnderTest = { id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { nnin: true, custom_identifier: 'no-of-the-tests' } };
const finland: UpstreamEidUnderTest = { id: 'fi-ftn', start: startFinnishTrustNetworkSimulator, tokenEndpointAuthMethod: 'private_key_jwt' };
const denmark: UpstreamEidUnderTest = { id: 'dk-mitid', start: startMitIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { cpr: true } };
const CZ_CLIENT = { id: '7f6e5d4c-3b2a-4190-8a7b-6c5d4e3f2a10', secret: 'the-broker-s-secret-at-the-simulated-bank-id' };
const SCOPE = 'openid profile personal_number eid';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1';
const BACKCHANNEL_SECRET = 'a-backchannel-client-secret-long-enough-0123456789';

const captured = capturingLog('debug');
/** Everything the flows handled that no line may hold. */
const secrets = new Set<string>([webClient.client_secret, ADMIN_TOKEN, BACKCHANNEL_SECRET, CZ_CLIENT.secret]);
let tb: TestBroker;
let rp: RelyingParty;
let bankId: Awaited<ReturnType<typeof startBankIdSimulator>>;
let freja: Awaited<ReturnType<typeof startFrejaSimulator>>;
let receiverOrigin: string;

/**
 * Cookies whose value is no secret and would be found in any log: a language (the simulators'
 * too, as cookies are the host's whatever its port) and the mark of a login begun in this browser
 * ("1"; its signature is kept as a secret).
 */
const SHOWN_COOKIES = /^(neb_lang|_upstream_lang|neb_begun_[\w-]+)$/;

/** Keeps the secrets of a login: its code, its tokens, the person's number, the browser's cookies. */
function remember(callback: URL, tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers, browser = rp.browser) {
  secrets.add(callback.searchParams.get('code')!);
  for (const token of [tokens.access_token, tokens.refresh_token, tokens.id_token]) if (token) secrets.add(token);
  const personalNumber = tokens.claims()?.personal_number;
  if (typeof personalNumber === 'string') secrets.add(personalNumber);
  for (const url of [tb.issuer, `${tb.issuer}/interaction/`, `${tb.issuer}/auth/`, `${tb.issuer}/session/`]) {
    for (const cookie of browser.cookieHeader(new URL(url)).split('; ').filter(Boolean)) {
      const name = cookie.slice(0, cookie.indexOf('='));
      if (!SHOWN_COOKIES.test(name)) secrets.add(cookie.slice(cookie.indexOf('=') + 1));
    }
  }
}

beforeAll(async () => {
  const port = await findFreePort();
  const issuer = `http://127.0.0.1:${port}`;
  const pki = await createTestPki();
  bankId = await startBankIdSimulator({ pki });
  freja = await startFrejaSimulator();
  const czech = await startCzechBankIdSimulator({ client_id: CZ_CLIENT.id, client_secret: CZ_CLIENT.secret, redirect_uri: `${issuer}/eid/cz-bankid/callback` });
  const upstreams = await Promise.all([norway, finland, denmark].map((eid) => startSimulatedUpstream(eid, issuer)));
  const receiver = await startReceiver();
  receiverOrigin = receiver.origin;
  for (const upstream of upstreams) secrets.add(String(upstream.section.client_secret ?? CZ_CLIENT.secret));
  tb = await startTestBroker(
    {
      issuer,
      port,
      log: { level: 'debug' },
      admin: { token: ADMIN_TOKEN },
      clients: [
        webClient,
        {
          client_id: 'with-backchannel',
          client_secret: BACKCHANNEL_SECRET,
          redirect_uris: [`${receiver.origin}/callback`],
          post_logout_redirect_uris: [`${receiver.origin}/logged-out`],
          backchannel_logout_uri: `${receiver.origin}/backchannel`,
        },
        {
          // Its back-channel goes nowhere: the broker logs the delivery that failed.
          client_id: 'with-backchannel-nowhere',
          client_secret: BACKCHANNEL_SECRET,
          redirect_uris: [`${receiver.origin}/nowhere/callback`],
          backchannel_logout_uri: `http://127.0.0.1:${await findFreePort()}/backchannel`,
        },
      ],
      eids: {
        'test-double': { acr_values: ['urn:test:se'] },
        'se-bankid': bankIdSection(bankId, pki, { custom_identifier: 'bankid-of-the-tests' }),
        'se-freja': frejaSection(freja, { custom_identifier: 'freja-of-the-tests' }),
        'cz-bankid': { mode: 'custom', issuer: czech.issuer, client_id: CZ_CLIENT.id, client_secret: CZ_CLIENT.secret, timeout: 1_500 },
        ...Object.fromEntries([norway, finland, denmark].map((eid, index) => [eid.id, upstreams[index]!.section])),
      },
    },
    'log-lines',
    { log: captured.log },
  );
  rp = await RelyingParty.discover(tb.issuer, webClient);
  for (const origin of [czech.issuer, ...upstreams.map((upstream) => upstream.simulator.issuer)]) rp.browser.alsoFollows.add(new URL(origin).origin);
  return async () => {
    await Promise.all([bankId.close(), freja.close(), czech.close(), ...upstreams.map((upstream) => upstream.simulator.close()), receiver.close()]);
  };
});

/** What is wrong with the lines of one log: each line's problems, and fields of more than one type. */
function problemsOf(checked: Array<LineCheck & { line: string }>): string[] {
  const mixed = Object.entries(mixedFieldTypes(checked.flatMap(({ fields }) => (fields ? [fields] : []))));
  return [
    ...checked.filter(({ problems }) => problems.length > 0).map(({ line, problems }) => `${problems.join('; ')}: ${line}`),
    ...mixed.map(([name, types]) => `${name} has values of more than one type: ${JSON.stringify(types)}`),
  ];
}

describe('every line of whole flows, at debug level', () => {
  it('a Swedish BankID login with the QR code', async () => {
    const bed = { simulator: bankId, tb, rp };
    const session = await BankIdSession.begin(bed, { acr_values: 'urn:nordic-eid:se:bankid:other-device', scope: SCOPE });
    await session.start();
    bankId.scanQr((await session.poll()).qrCode!.payload);
    await session.pollUntil((s) => s.hintCode === 'userSign');
    bankId.approve(session.orderRef(), 0);
    const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
    const callback = await session.backToClient(complete.redirectTo!);
    remember(callback, await rp.redeem(callback));
  });

  it('a Swedish BankID login on the same device', async () => {
    rp.browser.headers.set('user-agent', IPHONE);
    try {
      const bed = { simulator: bankId, tb, rp };
      const session = await BankIdSession.begin(bed, { acr_values: 'urn:nordic-eid:se:bankid:same-device', scope: SCOPE });
      const started = await session.start();
      const returnUrl = new URL((bankId.lastRequest('auth') as { returnUrl: string }).returnUrl);
      bankId.openAutoStart(started.autoStartToken!);
      await session.pollUntil((s) => s.hintCode === 'userSign');
      bankId.approve(session.orderRef(), 1);
      await rp.browser.request(returnUrl.pathname + returnUrl.search);
      const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
      const callback = await session.backToClient(complete.redirectTo!);
      remember(callback, await rp.redeem(callback));
    } finally {
      rp.browser.headers.delete('user-agent');
    }
  });

  it('a Freja eID login', async () => {
    const bed = { simulator: freja, tb, rp };
    const session = await FrejaSession.begin(bed, { acr_values: 'urn:nordic-eid:se:freja:other-device', scope: SCOPE });
    const started = await session.start();
    freja.scan(started.qrCode!.payload);
    await session.pollUntil((s) => s.hintCode === 'DELIVERED_TO_MOBILE');
    freja.approve(session.authRef(), 0);
    const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
    const callback = await session.backToClient(complete.redirectTo!);
    remember(callback, await rp.redeem(callback));
  });

  it.each([
    ['no-bankid', 'urn:nordic-eid:no:bankid'],
    ['fi-ftn', 'urn:nordic-eid:fi:ftn'],
    ['dk-mitid', 'urn:nordic-eid:dk:mitid'],
  ])('a %s login', async (_eid, acr) => {
    const { response } = await rp.authorize({ acr_values: acr, scope: SCOPE });
    const callback = await actAtUpstream(rp, response, { person: 1 });
    remember(callback, await rp.redeem(callback));
  });

  it('a Czech Bank iD login', async () => {
    const { response } = await rp.authorize({ acr_values: 'urn:nordic-eid:cz:bankid', scope: SCOPE });
    await response.text();
    const { leftTo } = await rp.browser.submit(new URL('/auth/decision', response.url), { bank: simulatedBanks[0]!.id, person: 'cz-petra', decision: 'approve' });
    remember(leftTo!, await rp.redeem(leftTo!));
  });

  it('a token refresh', async () => {
    const callback = await logIn(rp, { acr_values: 'urn:test:se', scope: `${SCOPE} offline_access`, prompt: 'consent' });
    const tokens = await rp.redeem(callback);
    remember(callback, tokens);
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!);
    for (const token of [refreshed.access_token, refreshed.refresh_token, refreshed.id_token]) if (token) secrets.add(token);
  });

  it('a logout with back-channel', async () => {
    const backchannel = await RelyingParty.discover(tb.issuer, { client_id: 'with-backchannel', client_secret: BACKCHANNEL_SECRET, redirect_uris: [`${receiverOrigin}/callback`] });
    const callback = await logIn(backchannel, { acr_values: 'urn:test:se' });
    const tokens = await backchannel.redeem(callback);
    remember(callback, tokens, backchannel.browser);
    const nowhere = await RelyingParty.discover(
      tb.issuer,
      { client_id: 'with-backchannel-nowhere', client_secret: BACKCHANNEL_SECRET, redirect_uris: [`${receiverOrigin}/nowhere/callback`] },
      backchannel.browser,
    );
    const nowhereCallback = await logIn(nowhere, { acr_values: 'urn:test:se' });
    remember(nowhereCallback, await nowhere.redeem(nowhereCallback), backchannel.browser);
    const confirmation = await backchannel.browser.request(
      client.buildEndSessionUrl(backchannel.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${receiverOrigin}/logged-out` }),
    );
    const done = await backchannel.browser.confirmLogout(await confirmation.text());
    expect(done.leftTo?.href).toBe(`${receiverOrigin}/logged-out`);
  });

  it('an admin API call', async () => {
    const created = await admin(tb.issuer, 'POST', '/admin/clients', { redirect_uris: ['https://made.example/cb'] });
    expect(created.status).toBe(201);
    secrets.add(String(created.body.client_secret));
    expect((await admin(tb.issuer, 'GET', '/admin/clients')).status).toBe(200);
    expect((await admin(tb.issuer, 'GET', '/admin/clients', undefined, 'a-wrong-admin-token-0123456789')).status).toBe(401);
  });

  it('failed logins: an eID failing, a person cancelling at the upstream and in the BankID app', async () => {
    const failed = await logIn(rp, { acr_values: 'urn:test:se' }, 'fail=server_error');
    expect(failed.searchParams.get('error')).toBe('server_error');
    const { response } = await rp.authorize({ acr_values: 'urn:nordic-eid:no:bankid', scope: SCOPE });
    expect((await actAtUpstream(rp, response, 'cancel')).searchParams.get('error')).toBe('access_denied');
    const session = await BankIdSession.begin({ simulator: bankId, tb, rp }, { acr_values: 'urn:nordic-eid:se:bankid:other-device', scope: SCOPE });
    await session.start();
    bankId.scanQr((await session.poll()).qrCode!.payload);
    await session.pollUntil((s) => s.hintCode === 'userSign');
    bankId.userCancel(session.orderRef());
    await session.pollUntil((s) => s.status !== 'IN_PROGRESS');
  });

  it('requests refused: a wrong code, a wrong access token, a malformed request line', async () => {
    const token = await fetch(`${tb.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${webClient.client_id}:${webClient.client_secret}`).toString('base64')}` },
      body: 'grant_type=authorization_code&code=not-a-code-of-ours&redirect_uri=https%3A%2F%2Frp.example%2Fcallback&code_verifier=x',
    });
    expect(token.status).toBe(400);
    const userinfo = await fetch(`${tb.issuer}/me`, { headers: { authorization: 'Bearer not-a-token-of-ours-at-all' } });
    expect(userinfo.status).toBe(401);
    const { socket, closed } = await rawConnection(Number(new URL(tb.issuer).port));
    socket.write('GET /\u0001 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await closed).toMatch(/^HTTP\/1\.1 4/);
  });

  it('all lines pass a strict parser, name each field with one type, carry a traceId once the broker serves, and hold no secret', () => {
    const checked = checkLogText(captured.text());
    expect(checked.length).toBeGreaterThan(100);
    expect(problemsOf(checked)).toEqual([]);
    // Every line these flows made the broker write, it wrote serving a request, or for a login a
    // request started (BankID's collects on the shared ticker, under the traceId of the login's page).
    const served = checked.slice(checked.findIndex(({ fields }) => fields?.msg === 'broker listening') + 1);
    expect(served.filter(({ fields }) => typeof fields?.traceId !== 'string').map(({ line }) => line)).toEqual([]);
    const text = captured.text();
    expect([...secrets].filter((secret) => text.includes(secret))).toEqual([]);
  });
});

describe('a broker process, from its start to its SIGTERM', () => {
  it('writes only strict JSON lines on stdout, with a traceId on each line of a request', async () => {
    const port = await findFreePort();
    const prefix = uniquePrefix('log-lines-process');
    const config = {
      port,
      redis: { url: redisUrl, key_prefix: prefix },
      admin: { token: ADMIN_TOKEN },
      clients: [webClient],
      eids: { 'fi-ftn': { mode: 'simulator' } },
      rate_limits: { auth: { per_ip: 1 } },
    };
    const traceIds: string[] = [];
    const broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker.json', JSON.stringify(config)), LOG_LEVEL: 'debug' });
    try {
      await broker.listening();
      const issuer = `http://127.0.0.1:${port}`;
      const traced = async (path: string, init: RequestInit = {}) => {
        const response = await fetch(`${issuer}${path}`, { redirect: 'manual', ...init });
        traceIds.push(response.headers.get('traceid')!);
        await response.arrayBuffer();
        return response.status;
      };
      expect(await traced('/admin/clients', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).toBe(200);
      const auth = `/auth?client_id=${webClient.client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(webClient.redirect_uris[0]!)}`;
      await traced(auth);
      expect(await traced(auth)).toBe(429);
      const redemption = { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${webClient.client_id}:${webClient.client_secret}`).toString('base64')}` };
      const body = 'grant_type=authorization_code&code=not-a-code&redirect_uri=x';
      expect(await traced('/token', { method: 'POST', headers: redemption, body })).toBe(400);
      // The same from a script (CORS), which oidc-provider asks the broker's policy about.
      expect(await traced('/token', { method: 'POST', headers: { ...redemption, origin: new URL(webClient.redirect_uris[0]!).origin }, body })).toBe(400);
    } finally {
      await broker.stop();
      await deleteKeysWithPrefix(prefix);
    }
    const checked = checkLogText(broker.stdout());
    expect(problemsOf(checked)).toEqual([]);
    const requestLines = checked.filter(({ fields }) => fields?.msg === 'request');
    expect(requestLines.map(({ fields }) => fields!.traceId)).toEqual(traceIds);
    expect(checked.map(({ fields }) => fields!.msg)).toEqual(expect.arrayContaining(['broker listening', 'signal received']));
    const text = broker.stdout().toString();
    expect(text).not.toContain(ADMIN_TOKEN);
    expect(text).not.toContain(webClient.client_secret);
  });
});
