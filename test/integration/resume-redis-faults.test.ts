import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { startRedisPassage, startRedisServer, type RedisPassage, type RedisServer } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * The connection to Redis dropped while a finished login returns to the client (/auth/<uid>,
 * oidc-provider's resume): after the login's interaction is consumed, at each write that follows
 * it — the browser session, the grant, the code, the grant remembered for the session's logout.
 * The person has identified by then; the page's Try again (the same address, a second later)
 * must take the login to the client with a code that redeems, not to "this login is over".
 */

const PREFIX = 'resume-redis-faults:';

let redis: RedisServer;
let passage: RedisPassage;
let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  redis = await startRedisServer();
  passage = await startRedisPassage(redis);
  // No rate limits: their counters would be among the commands each step sends.
  tb = await startTestBroker({ redis: { url: passage.url, key_prefix: PREFIX }, rate_limits: { enabled: false } }, 'resume-redis-faults', { prefix: PREFIX });
  rp = await RelyingParty.discover(tb.issuer, webClient);
}, 60_000);
afterAll(async () => {
  await tb?.close();
  await passage?.close();
  await redis?.stop();
});

/** A record's or set's write: a script with one key, the key after the number of keys (1). */
const written = (name: string) => new RegExp(`\\r\\n1\\r\\n\\$\\d+\\r\\n${PREFIX}${name}`);

const cases: Array<[string, 'cutAt' | 'cutAfter', RegExp]> = [
  ["as the interaction's consume is answered", 'cutAfter', new RegExp(`\\r\\n${PREFIX}oidc:Interaction:[^\\r]+\\r\\n\\$\\d+\\r\\n\\d+\\r\\n`)],
  ["at the browser session's write", 'cutAt', written('oidc:Session:')],
  ["at the grant's write", 'cutAt', written('oidc:Grant:')],
  ["at the code's write", 'cutAt', written('oidc:AuthorizationCode:')],
  ["at the write of the grant kept for the session's logout", 'cutAt', written('logout:grants:')],
];

describe('the connection to Redis dropped as a finished login returns to the client', () => {
  it.each(cases)('%s: 503, and Try again takes the login to the client with a code', async (_name, drop, command) => {
    const started = await rp.authorize({ acr_values: 'urn:test:test-double' });
    const dropped = passage[drop](command);
    let { leftTo, response } = await rp.browser.follow(`${started.response.url}&person=0`);
    await dropped;
    expect(response.status).toBe(503);
    const resume = response.url;
    expect(new URL(resume).pathname).toMatch(/^\/auth\//);
    for (let tries = 0; !leftTo && tries < 5; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get('retry-after') ?? 1) * 1000));
      ({ leftTo, response } = await rp.browser.follow(resume));
    }
    expect(leftTo?.searchParams.get('code'), leftTo ? leftTo.search : `${response.status} ${await response.text()}`).toBeTruthy();
    expect((await rp.redeem(leftTo!)).id_token).toBeTruthy();
  }, 60_000);
});
