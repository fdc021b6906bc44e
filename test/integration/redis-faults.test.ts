import { request } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { BankIdSession, bankIdSection, type BankIdTestBed } from '../../providers/se-bankid/test/support.js';
import { startFrejaSimulator } from '../../providers/se-freja/simulator/server.js';
import { FrejaSession, frejaSection } from '../../providers/se-freja/test/support.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { EventStreamReader } from '../support/event-stream.js';
import { tokenRequest } from '../support/http.js';
import { capturingLog, eventually, Scrape } from '../support/ops.js';
import { spawnBroker, writeConfig } from '../support/process.js';
import { findFreePort, startRedisServer, type RedisServer } from '../support/redis.js';
import { codeRedemption, logIn, RelyingParty } from '../support/relying-party.js';

/**
 * Redis misbehaving in the middle of a Swedish BankID login — a stall, a restart that lost
 * everything, a stall while the broker is told to stop — on a Redis server of the file's own.
 * The person gets a clear answer each time and loses no login that could still finish.
 */

const OTHER = 'urn:nordic-eid:se:bankid:other-device';
const PREFIX = 'faults:';

let redis: RedisServer;
let simulator: BankIdSimulator;
let section: Record<string, unknown>;
let bed: BankIdTestBed;

beforeAll(async () => {
  redis = await startRedisServer();
  const pki = await createTestPki();
  simulator = await startBankIdSimulator({ pki });
  section = bankIdSection(simulator, pki);
  const tb = await startTestBroker({ redis: { url: redis.url, key_prefix: PREFIX }, eids: { 'se-bankid': section } }, 'faults');
  bed = { simulator, tb, rp: await RelyingParty.discover(tb.issuer, webClient) };
}, 60_000);
afterAll(async () => {
  await simulator?.close();
  await redis?.stop();
});

/** A BankID login on another device whose order is under way, with the page's event stream open at `issuer`. */
async function waitingLogin(on: BankIdTestBed = bed): Promise<{ session: BankIdSession; stream: EventStreamReader }> {
  const session = await BankIdSession.begin(on, { acr_values: OTHER });
  expect((await session.start()).status).toBe('IN_PROGRESS');
  const stream = new EventStreamReader(on.rp.browser, on.tb.issuer, `/interaction/${session.uid}/api/events`);
  await stream.next('qr');
  return { session, stream };
}

/** The person scans the stream's latest QR code and approves. */
function approveLatest(session: BankIdSession, stream: EventStreamReader): void {
  simulator.scanQr(stream.events.filter((event) => event.event === 'qr').at(-1)!.data);
  simulator.approve(session.orderRef(), 0);
}

describe('Redis stalls while the person starts BankID', () => {
  it('the start answers 503 with Retry-After and ends nothing; asked again, it starts and the login completes', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    // Redis holds every command until the start has answered: past the command timeout, however
    // long that takes. What the start sent meanwhile runs once Redis goes on, so a failed login it
    // recorded would end the login.
    redis.pause();
    onTestFinished(() => redis.resume());
    const stalled = await session.call('start', { eid: 'se-bankid' });
    redis.resume();
    expect(stalled.status).toBe(503);
    expect(stalled.headers.get('retry-after')).toBe('1');
    expect(stalled.body).toMatchObject({ error: 'temporarily_unavailable' });

    // The page asks again after Retry-After.
    await eventually(() => bed.tb.broker.store.available);
    const started = await session.call('start', { eid: 'se-bankid' });
    expect(started.body.status).toBe('IN_PROGRESS');
    simulator.scanQr(started.body.qrCode!.payload);
    simulator.approve(session.orderRef(), 0);
    const complete = await session.pollUntil((state) => state.status === 'COMPLETE');
    const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
    expect(tokens.claims()).toMatchObject({ acr: OTHER });
  });
});

describe('Redis stalls while the page opens its event stream', () => {
  it('the first stream of an instance is answered 503 with Retry-After, not held; opened again, it shows the login', async () => {
    // An instance of its own, which has not yet subscribed to the eID's announcements.
    const tb = await startTestBroker({ redis: { url: redis.url, key_prefix: 'faults-stream:' }, eids: { 'se-bankid': section } }, 'faults-stream');
    const fresh = { simulator, tb, rp: await RelyingParty.discover(tb.issuer, webClient) };
    const session = await BankIdSession.begin(fresh, { acr_values: OTHER });
    expect((await session.start()).status).toBe('IN_PROGRESS');
    const path = `/interaction/${session.uid}/api/events`;

    redis.pause();
    onTestFinished(() => redis.resume());
    const refused = await new EventStreamReader(fresh.rp.browser, tb.issuer, path).opened;
    redis.resume();
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'temporarily_unavailable' });

    await eventually(() => tb.broker.store.available);
    const stream = new EventStreamReader(fresh.rp.browser, tb.issuer, path);
    expect((await stream.opened).status).toBe(200);
    await stream.next('qr');
    stream.close();
  });
});

describe('Redis restarted empty while a login waits', () => {
  it('the waiting page is told the login is over before the person does anything, its return shows the expired page, and a new login works', async () => {
    const { session, stream } = await waitingLogin();
    await redis.stop();
    await redis.start();
    await eventually(() => bed.tb.broker.store.available);

    // The login's state is gone, which the instance learns by reading its order again once Redis
    // is back (announcements made meanwhile were lost): the stream says to ask where the login
    // stands, and the answer is that it is over.
    expect((await stream.next('end')).data).toBe('{}');
    const polled = await session.call('poll?qr=true');
    expect(polled.status).toBe(400);
    expect(polled.body).toMatchObject({ error: 'session_expired' });

    // The way back to the client that a finished login takes, as a browser that goes Back would.
    const resumed = await bed.rp.browser.request(`/auth/${session.uid}`, { headers: { accept: 'text/html' } });
    expect(resumed.status).toBe(400);
    const page = await resumed.text();
    expect(page).toContain('<code>session_expired</code>');
    expect(page).toContain(resumed.headers.get('traceid')!);

    // Everything else recovers by itself: scripts loaded again, the orders channel subscribed again.
    const next = await waitingLogin();
    const admin = new Redis(redis.url);
    try {
      expect(await admin.pubsub('NUMSUB', `${PREFIX}se-bankid:orders`)).toEqual([`${PREFIX}se-bankid:orders`, 1]);
    } finally {
      admin.disconnect();
    }
    approveLatest(next.session, next.stream);
    const done = JSON.parse((await next.stream.next('done')).data) as { redirectTo: string };
    const tokens = await bed.rp.redeem(await next.session.backToClient(done.redirectTo));
    expect(tokens.claims()).toMatchObject({ acr: OTHER });
  });
});

describe('Redis restarted empty while a Freja eID login waits', () => {
  it('the waiting page is told the login is over before the person does anything', async () => {
    const freja = await startFrejaSimulator();
    onTestFinished(() => freja.close());
    const tb = await startTestBroker({ redis: { url: redis.url, key_prefix: 'faults-freja:' }, eids: { 'se-freja': frejaSection(freja) } }, 'faults-freja', { prefix: 'faults-freja:' });
    const frejaBed = { simulator: freja, tb, rp: await RelyingParty.discover(tb.issuer, webClient) };
    const session = await FrejaSession.begin(frejaBed, { acr_values: 'urn:nordic-eid:se:freja:other-device' });
    expect((await session.start()).status).toBe('IN_PROGRESS');
    const stream = new EventStreamReader(frejaBed.rp.browser, tb.issuer, `/interaction/${session.uid}/api/events`);
    await stream.next('qr');

    await redis.stop();
    await redis.start();
    await eventually(() => tb.broker.store.available);
    expect((await stream.next('end')).data).toBe('{}');
    const polled = await session.call('poll?qr=true');
    expect(polled.status).toBe(400);
    expect(polled.body).toMatchObject({ error: 'session_expired' });
  });
});

describe('Redis restarted empty while a login waits on polls', () => {
  it('a poll answered from this instance\'s copy of the login says it is over, not that no eID has started', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    expect((await session.start()).status).toBe('IN_PROGRESS');
    expect((await session.poll()).status).toBe('IN_PROGRESS');
    await redis.stop();
    await redis.start();
    await eventually(() => bed.tb.broker.store.available);
    // The instance's note of the started eID lapses (10 s); its copy of the interaction lasts longer.
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    const polled = await session.call('poll?qr=true');
    expect(polled.status).toBe(400);
    expect(polled.body).toMatchObject({ error: 'session_expired' });
  });
});

/** Sends `init` to `url` and drops the connection before the answer, as a client that gives up does. */
function leaveMidRequest(url: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<void> {
  return new Promise((resolve) => {
    const outgoing = request(url, { method: init.method, headers: init.headers });
    outgoing.on('error', () => undefined);
    outgoing.on('response', (response) => response.destroy());
    outgoing.end(init.body);
    setTimeout(() => {
      outgoing.destroy();
      resolve();
    }, 100);
  });
}

describe('clients that leave mid-request while Redis stalls', () => {
  it('cost nothing: the code still redeems, no stream stays counted, and nothing is logged as an error', async () => {
    const captured = capturingLog();
    const tb = await startTestBroker(
      { redis: { url: redis.url, key_prefix: 'faults-leave:' }, eids: { 'se-bankid': section, 'test-double': {} } },
      'faults-leave',
      { log: captured.log },
    );
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const redemption = codeRedemption(rp, await logIn(rp, { acr_values: 'urn:test:test-double' }));
    const { session, stream } = await waitingLogin({ simulator, tb, rp });
    stream.close();
    const api = (path: string) => new URL(`/interaction/${session.uid}/api/${path}`, tb.issuer);
    const fromPage = (path: string) => ({ origin: tb.issuer, cookie: rp.browser.cookieHeader(api(path)) });
    const basic = `Basic ${Buffer.from(`${webClient.client_id}:${webClient.client_secret}`).toString('base64')}`;

    redis.pause();
    onTestFinished(() => redis.resume());
    await Promise.all([
      leaveMidRequest(`${tb.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }, body: new URLSearchParams(redemption).toString() }),
      leaveMidRequest(api('poll?qr=true').href, { method: 'POST', headers: { 'content-type': 'application/json', ...fromPage('poll') }, body: '{}' }),
      leaveMidRequest(api('events').href, { method: 'GET', headers: { accept: 'text/event-stream', ...fromPage('events') } }),
      leaveMidRequest(api('start').href, { method: 'POST', headers: { 'content-type': 'application/json', ...fromPage('start') }, body: JSON.stringify({ eid: 'se-bankid' }) }),
    ]);
    // Past the command timeout: every request left behind has had its answer.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    redis.resume();
    await eventually(() => tb.broker.store.available);

    const tokens = await tokenRequest(tb.issuer, webClient, redemption);
    expect(tokens.status).toBe(200);
    expect((await Scrape.of(`${tb.issuer}/metrics`)).value('neb_event_streams_open')).toBe(0);
    expect(captured.lines().filter((line) => Number(line.level) >= 50)).toEqual([]);
  });
});

describe('SIGTERM while Redis hangs', () => {
  it('the token request in flight is answered 503, and the process exits with 0 while Redis still hangs', async () => {
    const port = await findFreePort();
    const issuer = `http://127.0.0.1:${port}`;
    const config = { issuer, port, redis: { url: redis.url, key_prefix: 'faults-process:' }, clients: [webClient], eids: { 'se-bankid': section } };
    const broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker.json', JSON.stringify(config)) });
    onTestFinished(() => broker.stop());
    await broker.listening();
    const rp = await RelyingParty.discover(issuer, webClient);
    const { session, stream } = await waitingLogin({ simulator, rp, tb: { issuer } as TestBroker });
    approveLatest(session, stream);
    const done = JSON.parse((await stream.next('done')).data) as { redirectTo: string };
    const redemption = codeRedemption(rp, await session.backToClient(done.redirectTo));

    redis.pause();
    onTestFinished(() => redis.resume());
    const inFlight = tokenRequest(issuer, webClient, redemption);
    // Time for the request to reach the broker, whose read of the code then waits on Redis.
    await new Promise((resolve) => setTimeout(resolve, 200));
    broker.child.kill('SIGTERM');
    const answer = await inFlight;
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: 'temporarily_unavailable' });
    expect((await broker.exited()).code).toBe(0);
  });
});
