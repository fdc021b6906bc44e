import { afterAll, describe, expect, it } from 'vitest';
import { webClient } from '../support/broker.js';
import { eventually } from '../support/ops.js';
import { spawnBroker, writeConfig } from '../support/process.js';
import { deleteKeysWithPrefix, findFreePort, redisUrl, uniquePrefix } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';
import { checkLogText } from '../support/strict-log.js';

const prefix = uniquePrefix('process-faults');
afterAll(() => deleteKeysWithPrefix(prefix));

/**
 * Loaded into the broker's process before it starts: on SIGUSR2, a timer whose promise fails
 * with nobody waiting for it, as a plugin's timer with a bug would.
 */
const FAILING_TIMER = "process.on('SIGUSR2', () => setTimeout(() => { Promise.reject(new Error('a background timer failed')); }));\n";

describe('a rejection nobody handles in the broker process', () => {
  it('is logged as one error line, and the instance serves on: a login starts after it', async () => {
    const port = await findFreePort();
    const issuer = `http://127.0.0.1:${port}`;
    const timer = writeConfig('failing-timer.mjs', FAILING_TIMER);
    const config = { issuer, port, redis: { url: redisUrl, key_prefix: prefix }, clients: [webClient], eids: { 'fi-ftn': { mode: 'simulator' } } };
    const broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker.json', JSON.stringify(config)) }, ['--import', timer]);
    afterAll(() => broker.stop());
    await broker.listening();
    broker.child.kill('SIGUSR2');
    await eventually(() => broker.output().includes('a rejection nobody handled'));

    const rp = await RelyingParty.discover(issuer, webClient);
    const { leftTo } = await rp.authorize({ acr_values: 'urn:nordic-eid:fi:ftn', scope: 'openid' });
    // Sent on to the eID (its simulator), as any login.
    expect(leftTo?.pathname).toMatch(/\/auth/);
    expect((await fetch(`${issuer}/health/ready`)).status).toBe(200);
    const failed = checkLogText(broker.stdout()).filter(({ fields }) => fields?.msg === 'background work failed (a rejection nobody handled)');
    expect(failed.map(({ fields }) => [fields!.level, (fields!.err as { message: string }).message])).toEqual([[50, 'a background timer failed']]);
    broker.child.kill('SIGTERM');
    expect((await broker.exited()).code).toBe(0);
  }, 60_000);
});
