import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { BankIdSession, bankIdSection, type BankIdTestBed } from '../../providers/se-bankid/test/support.js';
import { startTestBroker, webClient } from '../support/broker.js';
import { eventually } from '../support/ops.js';
import { startRedisServer, type RedisServer } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * Redis misbehaving in the middle of a Swedish BankID login, on a Redis server of the file's
 * own. The person gets a clear answer each time and loses no login that could still finish.
 */

const OTHER = 'urn:nordic-eid:se:bankid:other-device';

let redis: RedisServer;
let simulator: BankIdSimulator;
let bed: BankIdTestBed;

beforeAll(async () => {
  redis = await startRedisServer();
  const pki = await createTestPki();
  simulator = await startBankIdSimulator({ pki });
  const tb = await startTestBroker({ redis: { url: redis.url, key_prefix: 'faults:' }, eids: { 'se-bankid': bankIdSection(simulator, pki) } }, 'faults');
  bed = { simulator, tb, rp: await RelyingParty.discover(tb.issuer, webClient) };
}, 60_000);
afterAll(async () => {
  await simulator?.close();
  await redis?.stop();
});

/** Redis itself holds every command for `ms` (CLIENT PAUSE), then runs them. */
async function stallRedis(ms: number): Promise<void> {
  const admin = new Redis(redis.url);
  try {
    await admin.call('CLIENT', 'PAUSE', String(ms), 'ALL');
  } finally {
    admin.disconnect();
  }
}

describe('Redis stalls while the person starts BankID', () => {
  it('the start answers 503 with Retry-After and ends nothing; asked again, it starts and the login completes', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    // Longer than the command timeout (500 ms), short enough that Redis answers again before
    // the start's other writes: a failed login would then be recorded.
    await stallRedis(750);
    const stalled = await session.call('start', { eid: 'se-bankid' });
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
