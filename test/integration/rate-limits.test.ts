import { beforeAll, describe, expect, it } from 'vitest';
import { clientAddress } from '../../src/resilience/rate-limit.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { Scrape } from '../support/ops.js';
import { uniquePrefix } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';

const WINDOW = 5;
const off = { per_ip: 0, per_client: 0 };

/** Two instances of one deployment (one key prefix): limits are counted in Redis, for both. */
let first: TestBroker;
let second: TestBroker;
/** Token and eID start limits, with authorization requests unlimited. */
let other: TestBroker;

beforeAll(async () => {
  const prefix = uniquePrefix('rate-limits');
  const authOnly = { rate_limits: { window_seconds: WINDOW, auth: { per_ip: 4, per_client: 0 }, token: off, eid_start: off } };
  first = await startTestBroker(authOnly, 'rate-limits', { prefix });
  second = await startTestBroker(authOnly, 'rate-limits', { prefix });
  other = await startTestBroker({ rate_limits: { window_seconds: WINDOW, auth: off, token: { per_ip: 0, per_client: 2 }, eid_start: { per_ip: 2, per_client: 0 } } }, 'rate-limits-other');
});

async function authorize(tb: TestBroker) {
  // Both instances have the same issuer metadata but for their address: one discovery serves both.
  const url = await (await relyingParty()).authorizationUrl();
  url.host = new URL(tb.issuer).host;
  return fetch(url, { redirect: 'manual', headers: { accept: 'application/json' } });
}

let discovered: RelyingParty | undefined;
async function relyingParty(): Promise<RelyingParty> {
  discovered ??= await RelyingParty.discover(first.issuer, webClient);
  return discovered;
}

describe('authorization requests, per IP address', () => {
  it('answer 429 with Retry-After once over the limit, counted across instances, and again after the window', async () => {
    const statuses = [];
    // Alternating between the instances: each sees only half the requests, and still the limit holds.
    for (const tb of [first, second, first, second]) statuses.push((await authorize(tb)).status);
    expect(statuses.every((status) => status === 303)).toBe(true);

    const refused = await authorize(second);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW);
    expect(await refused.json()).toEqual({ error: 'too_many_requests', error_description: 'Too many requests from this address. Try again in a moment.' });
    expect((await authorize(first)).status).toBe(429);
    expect((await Scrape.of(`${first.issuer}/metrics`)).value('neb_rate_limited_total', { limit: 'auth', by: 'ip' })).toBeGreaterThanOrEqual(1);

    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 200));
    expect((await authorize(first)).status).toBe(303);
  });
});

describe('the token endpoint, per client', () => {
  it('answers 429 to the client that sent too many, whatever its requests were', async () => {
    const redeem = () =>
      tokenRequest(other.issuer, webClient, { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: webClient.redirect_uris[0]!, code_verifier: 'v'.repeat(43) });
    expect((await redeem()).status).toBe(400);
    expect((await redeem()).status).toBe(400);
    const refused = await redeem();
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe('too_many_requests');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('an address over its limit', () => {
  it("does not use up its client's allowance", async () => {
    const tb = await startTestBroker(
      { trust_proxy: true, rate_limits: { window_seconds: 60, auth: off, token: { per_ip: 2, per_client: 3 }, eid_start: off } },
      'rate-limits-both',
    );
    const basic = Buffer.from(`${webClient.client_id}:${webClient.client_secret}`).toString('base64');
    const redeemFrom = async (address: string) =>
      (
        await fetch(`${tb.issuer}/token`, {
          method: 'POST',
          headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'not-a-token' }),
        })
      ).status;
    const statuses = [];
    for (let i = 0; i < 5; i += 1) statuses.push(await redeemFrom('203.0.113.7'));
    expect(statuses).toEqual([400, 400, 429, 429, 429]);
    // The client has used 2 of its 3: another address still gets one request through, then the client's limit holds.
    expect(await redeemFrom('198.51.100.9')).toBe(400);
    expect(await redeemFrom('198.51.100.10')).toBe(429);
  });
});

describe('eID starts, per IP address', () => {
  it('answer 429 once over the limit, before the eID is asked', async () => {
    const rp = await RelyingParty.discover(other.issuer, webClient);
    const { response } = await rp.authorize();
    const uid = /\/interaction\/([^/?]+)/.exec(response.url)?.[1];
    expect(uid).toBeDefined();
    const start = () =>
      rp.browser.request(`/interaction/${uid}/api/start`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ eid: 'test-double' }),
      });
    // The only eID was started when the browser reached the interaction: that was the first start.
    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await start());
    expect(answers.map((answer) => answer.status)).toEqual([200, 429, 429]);
    const refused = answers[1]!;
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ error: 'too_many_requests' });
  });
});

describe('the address a limit counts by', () => {
  it('is the IPv4 address, or the /64 of an IPv6 one', () => {
    expect(clientAddress('203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddress('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddress('2001:db8:0:12:abcd::1')).toBe('2001:db8:0:12::/64');
    expect(clientAddress('2001:DB8:0000:0012:1:2:3:4')).toBe('2001:db8:0:12::/64');
    expect(clientAddress('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientAddress('::1')).toBe('0:0:0:0::/64');
  });
});
