import { Redis } from 'ioredis';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createTestPki, type TestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { simulatedPersons } from '../../providers/se-bankid/simulator/persons.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection, BankIdSession, type BankIdTestBed } from '../../providers/se-bankid/test/support.js';
import { startFrejaSimulator, type FrejaSimulator } from '../../providers/se-freja/simulator/server.js';
import { frejaSection, FrejaSession, type FrejaTestBed } from '../../providers/se-freja/test/support.js';
import type { ApiAnswer } from '../../providers/shared/test/app-page-session.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { EventStreamReader } from '../support/event-stream.js';
import { eventually } from '../support/ops.js';
import { startRedisPassage, startRedisServer, type RedisPassage, type RedisServer } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * A transaction the broker begins at an eID (a BankID order, a Freja eID transaction) and then
 * records in Redis. When Redis fails at exactly that write, the transaction must not stay
 * running at the eID with nobody to collect it: it is cancelled there, the start answers 503
 * with Retry-After, and asked again, it works. The other way round, an order the broker gives up
 * on is cancelled at the eID only once Redis has it as ended.
 *
 * Redis fails through a passage in front of a Redis server of the file's own: it hangs (paused)
 * or goes away (the connection dropped) just before the write that records the transaction.
 */

const PREFIX = 'left-running:';
const OTHER = 'urn:nordic-eid:se:bankid:other-device';
const FREJA_OTHER = 'urn:nordic-eid:se:freja:other-device';

/** A client that may ask for signatures, and a call centre's backend registered for CIBA. */
const bank = {
  client_id: 'bank',
  client_secret: 'a-bank-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://bank.example/callback'],
  authorization_details_types: ['sign'],
};
const callCentre = {
  client_id: 'call-centre',
  client_secret: 'a-call-centre-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://callcentre.example/callback'],
  backchannel_token_delivery_mode: 'poll' as const,
};

let redis: RedisServer;
let passage: RedisPassage;
let pki: TestPki;
/** BankID as it is by default, and one whose QR codes nobody scans fail after 2 s (startFailed). */
let bankId: BankIdSimulator;
let hastyBankId: BankIdSimulator;
let freja: FrejaSimulator;
let tb: TestBroker;

beforeAll(async () => {
  redis = await startRedisServer();
  passage = await startRedisPassage(redis);
  pki = await createTestPki();
  [bankId, hastyBankId, freja] = await Promise.all([startBankIdSimulator({ pki }), startBankIdSimulator({ pki, pickupTimeoutSeconds: 2 }), startFrejaSimulator()]);
  tb = await broker('left-running', { 'se-bankid': bankIdSection(bankId, pki), 'se-freja': frejaSection(freja) });
}, 60_000);
afterAll(async () => {
  redis?.resume();
  await Promise.all([bankId?.close(), hastyBankId?.close(), freja?.close()]);
  await passage?.close();
  await redis?.stop();
});

/** A broker on the passage, with its own keys. */
function broker(name: string, eids: Record<string, unknown>): Promise<TestBroker> {
  const prefix = `${PREFIX}${name}:`;
  return startTestBroker({ redis: { url: passage.url, key_prefix: prefix }, clients: [webClient, bank, callCentre], eids, ciba: { interval: 1 } }, name, { prefix });
}

/**
 * The bytes of the next script writing the record at `key` of a broker's eID: a start's replace,
 * a collect's save. A script goes as EVAL with its text the first time on a connection, as EVALSHA
 * after. (The value is sealed: which write it is, a test tells by when it arms.)
 */
function recordWrite(on: TestBroker, key: string): RegExp {
  return new RegExp(`eval(?:sha)?\\r\\n\\$\\d+\\r\\n[^\\r]*\\r\\n\\$1\\r\\n1\\r\\n\\$\\d+\\r\\n${on.prefix}${key}\\r\\n`, 'i');
}

/** What a start answered when Redis failed at its write: the 503 the page asks again after. */
function expectRetry(answer: { status: number; headers: Headers; body: object }): void {
  expect(answer.status).toBe(503);
  expect(answer.headers.get('retry-after')).toBe('1');
  expect(answer.body).toMatchObject({ error: 'temporarily_unavailable' });
}

/** Waits until the broker's Redis client, whose connection was dropped, answers again. */
async function connectedAgain(on: TestBroker): Promise<void> {
  await eventually(() => on.broker.store.ping().then(() => true, () => false));
}

/** The simulated BankID's orders that are still pending for `personalNumber`. */
const pendingFor = (simulator: BankIdSimulator, personalNumber: string) =>
  simulator.orders().filter((order) => order.status === 'pending' && order.requirement?.personalNumber === personalNumber);

/** The BankID page of a login for `rp`'s client. */
async function bankIdSession(rp: RelyingParty, params: Record<string, string>, simulator = bankId, on = tb): Promise<BankIdSession> {
  const bed: BankIdTestBed = { simulator, tb: on, rp };
  return BankIdSession.begin(bed, { acr_values: OTHER, ...params });
}

/** The person scans the login's QR code, approves, and the client gets tokens. */
async function completeBankId(session: BankIdSession, started: ApiAnswer, person: number): Promise<void> {
  session.bed.simulator.scanQr(started.qrCode!.payload);
  await session.pollUntil((state) => state.hintCode === 'userSign');
  session.bed.simulator.approve(session.orderRef(), person);
  const complete = await session.pollUntil((state) => state.status === 'COMPLETE');
  const tokens = await session.bed.rp.redeem(await session.backToClient(complete.redirectTo!));
  expect(tokens.claims()).toMatchObject({ personal_number: simulatedPersons[person]!.personalNumber });
}

/**
 * A BankID login by personal number whose start meets Redis hanging at the command `hangsAt`
 * picks out (given the login's uid): the order the start made must not be left live in the
 * person's app, the start answers 503 with Retry-After, and the start asked again completes.
 */
async function hangAtBankIdStart(person: number, hangsAt: (uid: string) => RegExp): Promise<void> {
  const { personalNumber } = simulatedPersons[person]!;
  // Pushed by the client, which proves the hint: BankID gets the person's number, by which the order is found here.
  const rp = await RelyingParty.discover(tb.issuer, webClient);
  const session = await BankIdSession.beginAt({ simulator: bankId, tb, rp }, await rp.pushedAuthorizationUrl({ acr_values: OTHER, login_hint: `personal_number:${personalNumber}` }));
  const cancelledBefore = bankId.cancelledOrders().length;

  const hung = passage.pauseAt(hangsAt(session.uid));
  onTestFinished(() => redis.resume());
  const stalled = await session.call('start', { eid: 'se-bankid' });
  await hung;
  redis.resume();
  expectRetry(stalled);
  // Not left in the person's app: BankID has the order cancelled, and none is pending for them.
  expect(bankId.cancelledOrders().slice(cancelledBefore)).toMatchObject([{ kind: 'auth', status: 'cancelled', requirement: { personalNumber } }]);
  expect(pendingFor(bankId, personalNumber)).toEqual([]);

  // Whatever is still stored is the cancelled order: the start asked again replaces it.
  const started = await session.call('start', { eid: 'se-bankid' });
  expect(started.body.status).toBe('IN_PROGRESS');
  await completeBankId(session, started.body, person);
}

describe('Redis hangs at the first write of a BankID login\'s order', () => {
  it('the order is cancelled at BankID, the start answers 503 with Retry-After, and the start asked again completes', async () => {
    await hangAtBankIdStart(1, (uid) => recordWrite(tb, `se-bankid:order:${uid}`));
  });
});

describe('Redis goes away at the first write of a BankID signature\'s order', () => {
  it('the /sign order is cancelled at BankID, the start answers 503, and the start asked again signs', async () => {
    const rp = await RelyingParty.discover(tb.issuer, bank);
    // A signature's text is pushed (PAR), never in a URL.
    const pushed = await rp.pushedAuthorizationUrl({ acr_values: OTHER, authorization_details: JSON.stringify([{ type: 'sign', text: 'I accept the terms of loan 4711.' }]) });
    const session = await BankIdSession.beginAt({ simulator: bankId, tb, rp }, pushed);
    const cancelledBefore = bankId.cancelledOrders().length;

    const cut = passage.cutAt(recordWrite(tb, `se-bankid:order:${session.uid}`));
    onTestFinished(() => connectedAgain(tb));
    const failed = await session.call('start', { eid: 'se-bankid' });
    await cut;
    expectRetry(failed);
    expect(bankId.cancelledOrders().slice(cancelledBefore)).toMatchObject([{ kind: 'sign', status: 'cancelled' }]);

    await connectedAgain(tb);
    const started = await session.call('start', { eid: 'se-bankid' });
    expect(started.body.status).toBe('IN_PROGRESS');
    expect(bankId.orders().at(-1)).toMatchObject({ kind: 'sign', status: 'pending' });
    await completeBankId(session, started.body, 2);
  });
});

describe('Redis goes away at the first write of a BankID phone order (CIBA)', () => {
  it('the order is cancelled on the person\'s phone, the client gets 503 and no auth_req_id, and a new request completes', async () => {
    const person = simulatedPersons[3]!;
    const backend = await client.discovery(new URL(tb.issuer), callCentre.client_id, undefined, client.ClientSecretBasic(callCentre.client_secret), {
      execute: [client.allowInsecureRequests],
    });
    const parameters = { scope: 'openid personal_number', login_hint: person.personalNumber, call_initiator: 'RP', binding_message: 'Ärende 4711' };
    const cancelledBefore = bankId.cancelledOrders().length;

    const cut = passage.cutAt(recordWrite(tb, 'se-bankid:order:phone-[^\\r]+'));
    onTestFinished(() => connectedAgain(tb));
    const response = await fetch(`${tb.issuer}/backchannel`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${callCentre.client_id}:${callCentre.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams(parameters).toString(),
    });
    await cut;
    const body = (await response.json()) as Record<string, unknown>;
    expectRetry({ status: response.status, headers: response.headers, body });
    expect(body).not.toHaveProperty('auth_req_id');
    expect(bankId.cancelledOrders().slice(cancelledBefore)).toMatchObject([{ kind: 'phone/auth', status: 'cancelled', personalNumber: person.personalNumber }]);

    // Asked again, BankID takes the new order: none of the person's is left running to clash with it.
    await connectedAgain(tb);
    const again = await client.initiateBackchannelAuthentication(backend, parameters);
    const order = await eventually(() => bankId.orders().find((candidate) => candidate.kind === 'phone/auth' && candidate.personalNumber === person.personalNumber && candidate.status === 'pending'));
    bankId.confirmCall(order.orderRef);
    bankId.approve(order.orderRef);
    const tokens = await client.pollBackchannelAuthenticationGrant(backend, again);
    expect(tokens.claims()).toMatchObject({ personal_number: person.personalNumber });
  });
});

describe('Redis hangs at the first write of a Freja eID transaction', () => {
  it('the transaction is cancelled at Freja, the start answers 503 with Retry-After, and the start asked again completes', async () => {
    const bed: FrejaTestBed = { simulator: freja, tb, rp: await RelyingParty.discover(tb.issuer, webClient) };
    const session = await FrejaSession.begin(bed, { acr_values: FREJA_OTHER });

    const hung = passage.pauseAt(recordWrite(tb, `se-freja:transaction:${session.uid}`));
    onTestFinished(() => redis.resume());
    const stalled = await session.call('start', { eid: 'se-freja' });
    await hung;
    redis.resume();
    expectRetry(stalled);
    expect(freja.transactions().at(-1)).toMatchObject({ status: 'RP_CANCELED' });

    const started = await session.call('start', { eid: 'se-freja' });
    expect(started.body.status).toBe('IN_PROGRESS');
    freja.scan(started.body.qrCode!.payload);
    freja.approve(session.authRef(), 0);
    const complete = await session.pollUntil((state) => state.status === 'COMPLETE');
    const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
    expect(tokens.claims()).toMatchObject({ acr: FREJA_OTHER });
  });
});

/**
 * The bytes of the command taking a login's audit mark of its start: the core's last step of a
 * start, after the eID's transaction is begun and recorded.
 */
function startMark(on: TestBroker, uid: string, eid: string): RegExp {
  return new RegExp(`\\r\\n${on.prefix}audit:first:started:${uid}:${eid}\\r\\n`);
}

describe('Redis fails at the core\'s step after the eID\'s start stored its transaction', () => {
  it('hangs: the BankID order is stopped at BankID, the start answers 503 with Retry-After, and the start asked again completes', async () => {
    await hangAtBankIdStart(0, (uid) => startMark(tb, uid, 'se-bankid'));
  });

  // The mark is written again while Redis is back within moments (a dropped connection): the start
  // goes on, rather than cost the person a 503 and Freja a transaction.
  it('goes away for a moment: the start goes on once Redis is back, and its Freja eID transaction completes', async () => {
    const bed: FrejaTestBed = { simulator: freja, tb, rp: await RelyingParty.discover(tb.issuer, webClient) };
    const session = await FrejaSession.begin(bed, { acr_values: FREJA_OTHER });

    const cut = passage.cutAt(startMark(tb, session.uid, 'se-freja'));
    onTestFinished(() => connectedAgain(tb));
    const started = await session.call('start', { eid: 'se-freja' });
    await cut;
    expect(started.body.status).toBe('IN_PROGRESS');
    expect(freja.transactions().at(-1)).toMatchObject({ authRef: session.authRef(), status: 'STARTED' });
    freja.scan(started.body.qrCode!.payload);
    freja.approve(session.authRef(), 0);
    const complete = await session.pollUntil((state) => state.status === 'COMPLETE');
    const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
    expect(tokens.claims()).toMatchObject({ acr: FREJA_OTHER });
  });
});

/** Polls the login, as its page does, until `reached` resolves. */
async function pollUntilReached(session: BankIdSession | FrejaSession, reached: Promise<void>): Promise<void> {
  let done = false;
  void reached.then(() => (done = true));
  for (let i = 0; i < 200 && !done; i += 1) {
    await session.call('poll?qr=true');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(done).toBe(true);
}

describe('Redis goes away at the write of a QR code\'s new order (nobody scanned the first in time)', () => {
  it('the new order is cancelled at BankID, and the login goes on with the next one', async () => {
    const restarting = await broker('left-running-restart', { 'se-bankid': bankIdSection(hastyBankId, pki) });
    const rp = await RelyingParty.discover(restarting.issuer, webClient);
    const session = await bankIdSession(rp, {}, hastyBankId, restarting);
    onTestFinished(() => connectedAgain(restarting));
    expect((await session.start()).status).toBe('IN_PROGRESS');
    const first = session.orderRef();
    // The first collect saves the order's hint code; the next write is the restart's, 2 s on.
    expect((await session.poll()).hintCode).toBe('outstandingTransaction');
    const cancelledBefore = hastyBankId.cancelledOrders().length;

    await pollUntilReached(session, passage.cutAt(recordWrite(restarting, `se-bankid:order:${session.uid}`)));
    const cancelled = hastyBankId.cancelledOrders().slice(cancelledBefore);
    expect(cancelled).toMatchObject([{ kind: 'auth', status: 'cancelled' }]);
    expect(cancelled[0]!.orderRef).not.toBe(first);

    // The first order is still the login's in Redis: its next collect restarts it again, and that order is shown.
    await connectedAgain(restarting);
    const next = await session.pollUntil((state) => {
      const latest = hastyBankId.orders().at(-1)!;
      return ![first, cancelled[0]!.orderRef].includes(latest.orderRef) && state.qrCode?.payload.includes(latest.qrStartToken) === true;
    });
    await completeBankId(session, next, 4);
  });
});

describe('Redis goes away as the broker gives up on a login the person has not finished in time', () => {
  let hasty: TestBroker;
  let rp: RelyingParty;
  beforeAll(async () => {
    hasty = await broker('left-running-hasty', {
      'se-bankid': bankIdSection(hastyBankId, pki, { allowed_polling_for_minutes: 0.05 }),
      'se-freja': frejaSection(freja, { allowed_seconds: 10 }),
    });
    rp = await RelyingParty.discover(hasty.issuer, webClient);
  });

  it('BankID: the order is cancelled only once stored as ended, and the login ends as out of time, not as an error', async () => {
    const session = await bankIdSession(rp, {}, hastyBankId, hasty);
    onTestFinished(() => connectedAgain(hasty));
    hastyBankId.scanQr((await session.start()).qrCode!.payload);
    const orderRef = session.orderRef();
    // Once the app's pickup is saved, the next write is the ending's, when the 3 s are spent.
    await session.pollUntil((state) => state.hintCode === 'userSign');

    await pollUntilReached(session, passage.cutAt(recordWrite(hasty, `se-bankid:order:${session.uid}`)));
    // Redis still has the order waiting, and so has BankID.
    expect(hastyBankId.orders().find((order) => order.orderRef === orderRef)).toMatchObject({ status: 'pending' });

    await connectedAgain(hasty);
    const ended = await session.pollUntil((state) => state.status === 'ERROR');
    expect(ended).toMatchObject({ status: 'ERROR', messageCode: 'RFA17B' });
    expect(hastyBankId.cancelledOrders().map((order) => order.orderRef)).toContain(orderRef);
  });

  it('Freja eID: the transaction is cancelled only once stored as ended, and the login ends as out of time, not as cancelled', { timeout: 40_000 }, async () => {
    const session = await FrejaSession.begin({ simulator: freja, tb: hasty, rp }, { acr_values: FREJA_OTHER });
    onTestFinished(() => connectedAgain(hasty));
    freja.scan((await session.start()).qrCode!.payload);
    const authRef = session.authRef();
    const transaction = () => freja.transactions().find((candidate) => candidate.authRef === authRef);
    // Once the app's pickup is saved, the next write is the ending's, when the 10 s are spent.
    await session.pollUntil((state) => state.hintCode === 'DELIVERED_TO_MOBILE');

    await pollUntilReached(session, passage.cutAt(recordWrite(hasty, `se-freja:transaction:${session.uid}`)));
    expect(transaction()).toMatchObject({ status: 'DELIVERED_TO_MOBILE' });

    await connectedAgain(hasty);
    const ended = await session.pollUntil((state) => state.status === 'ERROR');
    expect(ended).toMatchObject({ status: 'ERROR', messageCode: 'expired' });
    expect(transaction()).toMatchObject({ status: 'RP_CANCELED' });
  });
});

/**
 * A login's record gone from Redis with no word to the broker (a Cluster node restarted empty
 * that is not the one the broker listens on, or the record expired) while the person is at the
 * eID: the next status the eID gives must not write the record again, which would keep the page
 * going and have the person approve for a login that can no longer finish. The transaction is
 * stopped at the eID, the page's stream ends, and nothing is left in Redis.
 */
describe("a login's record lost while the person is at the eID", () => {
  async function withoutItsRecord(key: string): Promise<Redis> {
    const direct = new Redis(redis.url);
    onTestFinished(() => direct.quit().then(() => undefined));
    expect(await direct.del(`${tb.prefix}${key}`)).toBe(1);
    return direct;
  }

  it('BankID: the scan is not stored, the order is cancelled, the stream ends', { timeout: 30_000 }, async () => {
    const session = await bankIdSession(await RelyingParty.discover(tb.issuer, webClient), {});
    const started = await session.start();
    const orderRef = session.orderRef();
    const stream = await waitingStream(session);

    const direct = await withoutItsRecord(`se-bankid:order:${session.uid}`);
    bankId.scanQr(started.qrCode!.payload);
    await stream.closedByBroker(20_000);
    await eventually(() => bankId.cancelledOrders().some((order) => order.orderRef === orderRef));
    expect(await direct.exists(`${tb.prefix}se-bankid:order:${session.uid}`)).toBe(0);
  });

  it('Freja eID: the scan is not stored, the transaction is cancelled, the stream ends', { timeout: 30_000 }, async () => {
    const session = await FrejaSession.begin({ simulator: freja, tb, rp: await RelyingParty.discover(tb.issuer, webClient) }, { acr_values: FREJA_OTHER });
    const started = await session.start();
    const authRef = session.authRef();
    const stream = await waitingStream(session);

    const direct = await withoutItsRecord(`se-freja:transaction:${session.uid}`);
    freja.scan(started.qrCode!.payload);
    await stream.closedByBroker(20_000);
    await eventually(() => freja.transactions().find((candidate) => candidate.authRef === authRef)?.status === 'RP_CANCELED');
    expect(await direct.exists(`${tb.prefix}se-freja:transaction:${session.uid}`)).toBe(0);
  });
});

/**
 * One login in two tabs: BankID started in the first, then Freja eID in the second. The login
 * now waits on Freja eID, and the BankID order is cancelled at BankID: left running, approving it
 * in the app could still end the login, with the eID the person had left.
 */
describe('a login that goes on with another eID in another tab', () => {
  it('stops the BankID order of the first tab at BankID', async () => {
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const { response } = await rp.authorize({ acr_values: `${OTHER} ${FREJA_OTHER}` });
    const uid = /\/interaction\/([^/?]+)/.exec(response.url)![1]!;
    const bankIdTab = new BankIdSession({ simulator: bankId, tb, rp }, 'se-bankid', uid);
    expect((await bankIdTab.start()).status).toBe('IN_PROGRESS');
    const orderRef = bankIdTab.orderRef();

    const frejaTab = new FrejaSession({ simulator: freja, tb, rp }, 'se-freja', uid);
    expect((await frejaTab.start()).status).toBe('IN_PROGRESS');
    await eventually(() => bankId.cancelledOrders().some((order) => order.orderRef === orderRef));
  });
});

/** The login's event stream, open and showing its transaction. */
async function waitingStream(session: BankIdSession | FrejaSession): Promise<EventStreamReader> {
  const stream = new EventStreamReader(session.bed.rp.browser, session.bed.tb.issuer, `/interaction/${session.uid}/api/events`);
  onTestFinished(() => stream.close());
  expect((await stream.opened).status).toBe(200);
  await stream.next('status');
  return stream;
}

/**
 * Redis shut down and started again empty while a page waits on its login's event stream: the
 * login is gone, and with it whatever would have collected the order. Once the broker reads
 * what it missed, it ends the page's stream and stops the order at the eID, so that the
 * person's app does not keep an order nothing can come of until it runs out. Last in the file:
 * every other test's state goes with the restart.
 */
describe('Redis restarted empty while the page waits on a running order', () => {
  async function restartRedisEmpty(): Promise<void> {
    await redis.stop();
    await redis.start();
    await connectedAgain(tb);
  }

  it('BankID: the stream ends and the order is cancelled at BankID', { timeout: 60_000 }, async () => {
    const session = await bankIdSession(await RelyingParty.discover(tb.issuer, webClient), {});
    expect((await session.start()).status).toBe('IN_PROGRESS');
    const orderRef = session.orderRef();
    const stream = await waitingStream(session);

    await restartRedisEmpty();
    await stream.closedByBroker(30_000);
    await eventually(() => bankId.cancelledOrders().some((order) => order.orderRef === orderRef));
  });

  it('Freja eID: the stream ends and the transaction is cancelled at Freja', { timeout: 60_000 }, async () => {
    const session = await FrejaSession.begin({ simulator: freja, tb, rp: await RelyingParty.discover(tb.issuer, webClient) }, { acr_values: FREJA_OTHER });
    expect((await session.start()).status).toBe('IN_PROGRESS');
    const authRef = session.authRef();
    const stream = await waitingStream(session);

    await restartRedisEmpty();
    await stream.closedByBroker(30_000);
    await eventually(() => freja.transactions().find((candidate) => candidate.authRef === authRef)?.status === 'RP_CANCELED');
  });
});
