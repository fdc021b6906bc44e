import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { startRedisPassage, startRedisServer, type RedisPassage, type RedisServer } from '../support/redis.js';
import { chooseAtUpstream, startUpstreamTestBed, type UpstreamTestBed } from '../support/upstream.js';

/**
 * The connection to Redis dropped at each step of a person's return from an upstream OIDC eID:
 * the read and consume of the login's state, the write of the outcome the callback parks, and
 * on the interaction's /complete the outcome's read, the interaction's save and the outcome's
 * delete. Once past the state's consume the upstream's code is spent, so a 503 there could not
 * be tried again; every step must end in the person's login reaching the client, at once or at
 * the page's Try again (the same address again, a second later).
 */

const PREFIX = 'upstream-redis-faults:';
const ACR = 'urn:nordic-eid:no:bankid';

let redis: RedisServer;
let passage: RedisPassage;
let bed: UpstreamTestBed;

beforeAll(async () => {
  redis = await startRedisServer();
  passage = await startRedisPassage(redis);
  bed = await startUpstreamTestBed(
    'upstream-redis-faults',
    [{ id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic' }],
    undefined,
    // No rate limits: their counters would be among the commands each step sends.
    { redis: { url: passage.url, key_prefix: PREFIX }, rate_limits: { enabled: false } },
  );
}, 60_000);
afterAll(async () => {
  await bed?.tb.close();
  await passage?.close();
  await redis?.stop();
});

/** A record's write (a script: its key after the number of keys, 1), read (HGETALL) or delete (DEL), by the key's name after the prefix. */
const written = (name: string) => new RegExp(`\\r\\n1\\r\\n\\$\\d+\\r\\n${PREFIX}${name}`);
const read = (name: string) => new RegExp(`hgetall\\r\\n\\$\\d+\\r\\n${PREFIX}${name}`, 'i');
const deleted = (name: string) => new RegExp(`del\\r\\n\\$\\d+\\r\\n${PREFIX}${name}`, 'i');

const steps: Record<string, RegExp> = {
  "the read of the login's state": read('no-bankid:state:'),
  "the consume of the login's state": written('no-bankid:state:'),
  'the write of the outcome': written('login-outcome:'),
  "the outcome's read": read('login-outcome:'),
  "the interaction's save": written('oidc:Interaction:'),
  "the outcome's delete": deleted('login-outcome:'),
};

/** Drops the connection just before the command passes (cutAt), or as its answer comes back (cutAfter: it ran). */
type Drop = 'cutAt' | 'cutAfter';

const cases: Array<[string, Drop, RegExp]> = [
  ...Object.entries(steps).map(([step, command]): [string, Drop, RegExp] => [`at ${step}`, 'cutAt', command]),
  ["as the state's consume is answered", 'cutAfter', steps["the consume of the login's state"]!],
];

describe('the connection to Redis dropped while the person returns from an upstream eID', () => {
  it.each(cases)('%s: the login reaches the client, at once or at Try again', async (_name, drop, command) => {
    const start = await bed.rp.authorize({ acr_values: ACR });
    const dropped = passage[drop](command);
    let { leftTo, response } = await chooseAtUpstream(bed.rp.browser, start.response, { person: 0 });
    await dropped;
    const answered = response.url;
    for (let tries = 0; !leftTo && tries < 5; tries += 1) {
      expect(response.status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get('retry-after') ?? 1) * 1000));
      ({ leftTo, response } = await bed.rp.browser.follow(answered));
    }
    expect(leftTo?.searchParams.get('code'), leftTo ? leftTo.search : `${response.status} ${await response.text()}`).toBeTruthy();
    expect((await bed.rp.redeem(leftTo!)).id_token).toBeTruthy();
  }, 60_000);
});
