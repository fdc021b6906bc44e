import { Agent, request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { clientAddress } from '../../src/http/client-ip.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { rawConnection, tokenRequest } from '../support/http.js';
import { eventually, Scrape } from '../support/ops.js';
import { clearOfWindowEnd, LONG_WINDOW, windowStart } from '../support/rate-windows.js';
import { rateLimitCounts, uniquePrefix } from '../support/redis.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

const WINDOW = 5;
const off = { per_ip: 0 };
const tokenOff = { per_ip: 0, per_client: 0 };

/** Two instances of one deployment (one key prefix): limits are shared through Redis. */
let first: TestBroker;
let second: TestBroker;
let sharedPrefix: string;
/** Token and eID start limits, with authorization requests unlimited. */
let other: TestBroker;

beforeAll(async () => {
  sharedPrefix = uniquePrefix('rate-limits');
  const authOnly = { rate_limits: { window_seconds: WINDOW, auth: { per_ip: 4 }, token: tokenOff, eid_start: off } };
  first = await startTestBroker(authOnly, 'rate-limits', { prefix: sharedPrefix });
  second = await startTestBroker(authOnly, 'rate-limits', { prefix: sharedPrefix });
  other = await startTestBroker(
    { rate_limits: { window_seconds: LONG_WINDOW, auth: off, token: { per_ip: 0, per_client: 2 }, eid_start: { per_ip: 2 } } },
    'rate-limits-other',
  );
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

/** The statuses of `requests` requests made one after the other. */
const statusesOf = async (requests: number, request: () => Promise<number>) => {
  const statuses = [];
  for (let i = 0; i < requests; i += 1) statuses.push(await request());
  return statuses;
};
const authorizeStatus = (tb: TestBroker) => async () => (await authorize(tb)).status;

/**
 * The status of a refresh with a token that is none, at `tb`'s token endpoint from `address` (as
 * its trusted proxy says), with `headers` (the client's credentials) and `body` besides.
 */
async function refreshStatus(tb: TestBroker, address: string, { headers = {}, body = {} }: { headers?: Record<string, string>; body?: Record<string, string> } = {}): Promise<number> {
  const response = await fetch(`${tb.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address, ...headers },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'not-a-token', ...body }),
  });
  return response.status;
}

/**
 * A broker behind a trusted proxy whose token endpoint alone is limited (`token`, and `more` of
 * the rate limits' settings), on a key prefix of its own, all of a test's requests in one window.
 */
async function tokenLimitedBroker(name: string, token: { per_ip: number; per_client: number }, more: Record<string, number> = {}) {
  await clearOfWindowEnd();
  const prefix = uniquePrefix(name);
  const tb = await startTestBroker({ trust_proxy: true, rate_limits: { window_seconds: LONG_WINDOW, auth: off, token, eid_start: off, ...more } }, name, { prefix });
  return { tb, prefix };
}

/** Basic credentials of `clientId` with `secret`. */
const basicOf = (clientId: string, secret: string) => ({ authorization: `Basic ${btoa(`${clientId}:${secret}`)}` });

describe('authorization requests, per IP address', () => {
  it('answer 429 with Retry-After once over the limit, counted across instances, and again after the window', async () => {
    await windowStart(WINDOW);
    // The first instance lets three through and sends its counts to the store.
    expect(await statusesOf(3, authorizeStatus(first))).toEqual([303, 303, 303]);
    await first.broker.rateLimits.flush();
    // The second has counted none: it lets one through, and learns the first's three when it sends its own.
    expect((await authorize(second)).status).toBe(303);
    await second.broker.rateLimits.flush();

    const refused = await authorize(second);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW);
    expect(await refused.json()).toEqual({ error: 'too_many_requests', error_description: 'Too many requests from this address. Try again in a moment.' });
    expect((await Scrape.of(`${second.issuer}/metrics`)).value('neb_rate_limited_total', { limit: 'auth', by: 'ip' })).toBeGreaterThanOrEqual(1);

    // The first last saw three: it lets one more through (what an instance may let through before
    // its next send, README's bound), and refuses once its send tells it the count.
    expect((await authorize(first)).status).toBe(303);
    await first.broker.rateLimits.flush();
    expect((await authorize(first)).status).toBe(429);

    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 200));
    expect((await authorize(first)).status).toBe(303);
  });

  it('are sent to the store by each instance on its own, shortly after they are counted', async () => {
    await clearOfWindowEnd();
    const prefix = uniquePrefix('rate-limits-flush');
    const tb = await startTestBroker({ rate_limits: { window_seconds: LONG_WINDOW, auth: { per_ip: 100 } } }, 'rate-limits-flush', { prefix });
    expect(await statusesOf(3, authorizeStatus(tb))).toEqual([303, 303, 303]);
    await eventually(async () => (await rateLimitCounts(prefix, 'auth'))['ip:127.0.0.1'] === 3);
  });
});

describe('the token endpoint, per client', () => {
  it('answers 429 to the client that sent too many, whatever its requests were, at the token endpoint in any spelling oidc-provider takes', async () => {
    await clearOfWindowEnd();
    const redeem = (path?: string) =>
      tokenRequest(other.issuer, webClient, { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: webClient.redirect_uris[0]!, code_verifier: 'v'.repeat(43) }, path);
    expect((await redeem()).status).toBe(400);
    expect((await redeem()).status).toBe(400);
    const refused = await redeem();
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe('too_many_requests');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // oidc-provider answers at /TOKEN and /Token/ as at /token: so are they counted.
    for (const path of ['/TOKEN', '/Token/']) expect((await redeem(path)).status, path).toBe(429);
  });
});

describe('an address over its limit', () => {
  it("does not use up its client's allowance", async () => {
    await clearOfWindowEnd();
    const tb = await startTestBroker(
      { trust_proxy: true, rate_limits: { window_seconds: LONG_WINDOW, auth: off, token: { per_ip: 2, per_client: 3 }, eid_start: off } },
      'rate-limits-both',
    );
    const redeemFrom = (address: string) => refreshStatus(tb, address, { headers: basicOf(webClient.client_id, webClient.client_secret) });
    const statuses = [];
    for (let i = 0; i < 5; i += 1) statuses.push(await redeemFrom('203.0.113.7'));
    expect(statuses).toEqual([400, 400, 429, 429, 429]);
    // The client has used 2 of its 3: another address still gets one request through, then the client's limit holds.
    expect(await redeemFrom('198.51.100.9')).toBe(400);
    expect(await redeemFrom('198.51.100.10')).toBe(429);
  });
});

describe("a client's name in credentials that do not authenticate it", () => {
  it("does not use up that client's allowance: a few addresses cannot lock it out", async () => {
    await clearOfWindowEnd();
    const tb = await startTestBroker(
      { trust_proxy: true, rate_limits: { window_seconds: LONG_WINDOW, auth: off, token: { per_ip: 0, per_client: 2 }, eid_start: off } },
      'rate-limits-credentials',
    );
    const post = async (path: string, secret: string, address: string, body: Record<string, string>, type = 'application/x-www-form-urlencoded') =>
      (
        await fetch(`${tb.issuer}${path}`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${webClient.client_id}:${secret}`).toString('base64')}`,
            'content-type': type,
            'x-forwarded-for': address,
          },
          body: new URLSearchParams(body),
        })
      ).status;
    const refresh = { grant_type: 'refresh_token', refresh_token: 'not-a-token' };
    const guesses = [];
    for (const address of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4']) guesses.push(await post('/token', 'a-guessed-secret', address, refresh));
    expect(guesses).toEqual([401, 401, 401, 401]);
    // Nor do requests refused before their credentials are read (400): credentials sent two ways,
    // a client_id other than Basic's, a body that is not a form.
    const refusedUnread = [
      await post('/token', 'a-guessed-secret', '203.0.113.5', { ...refresh, client_secret: 'another-guess' }),
      await post('/token', 'a-guessed-secret', '203.0.113.6', { ...refresh, client_id: 'spa' }),
      await post('/token', 'a-guessed-secret', '203.0.113.7', refresh, 'text/plain'),
    ];
    expect(refusedUnread).toEqual([400, 400, 400]);
    // The client itself still has its two requests, then its limit holds.
    expect(await post('/token', webClient.client_secret, '198.51.100.9', refresh)).toBe(400);
    expect(await post('/token', webClient.client_secret, '198.51.100.9', refresh)).toBe(400);
    expect(await post('/token', webClient.client_secret, '198.51.100.9', refresh)).toBe(429);
  });
});

describe("a client's name in credentials, with a body sent slowly", () => {
  it("holds none of that client's allowance while the request lasts: the client is not locked out", async () => {
    const { tb, prefix } = await tokenLimitedBroker('rate-limits-slow-body', { per_ip: 100, per_client: 2 });
    const port = Number(new URL(tb.issuer).port);
    // Three strangers name the client in Basic credentials, and send their bodies a few bytes at a time (here: never the rest).
    const strangers = await Promise.all(
      ['203.0.113.21', '203.0.113.22', '203.0.113.23'].map(async (address) => {
        const { socket } = await rawConnection(port);
        const head = [
          'POST /token HTTP/1.1',
          `Host: ${new URL(tb.issuer).host}`,
          `Authorization: ${basicOf(webClient.client_id, 'a-guessed-secret').authorization}`,
          'Content-Type: application/x-www-form-urlencoded',
          'Content-Length: 200',
          `X-Forwarded-For: ${address}`,
        ];
        socket.write(`${head.join('\r\n')}\r\n\r\ngrant_type=`);
        return socket;
      }),
    );
    try {
      // Each has passed the limits by now: its address is counted.
      await eventually(async () => {
        await tb.broker.rateLimits.flush();
        const counts = await rateLimitCounts(prefix, 'token');
        return ['203.0.113.21', '203.0.113.22', '203.0.113.23'].every((address) => counts[`ip:${address}`] === 1);
      });
      // The client itself still has its two requests while the strangers' last, then its limit holds.
      const own = () => refreshStatus(tb, '198.51.100.20', { headers: basicOf(webClient.client_id, webClient.client_secret) });
      expect(await statusesOf(3, own)).toEqual([400, 400, 429]);
    } finally {
      for (const socket of strangers) socket.destroy();
    }
  });
});

/** A day: the flood below takes a while, and must fall in one window. */
const DAY = 86_400;

/** GET `path` `times` times, one after another, on one kept-alive connection from `localAddress`; the statuses. */
async function getFrom(port: number, localAddress: string, path: string, times: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const statuses: number[] = [];
  try {
    for (let i = 0; i < times; i += 1) {
      statuses.push(
        await new Promise<number>((resolve, reject) => {
          const request = httpRequest({ host: '127.0.0.1', port, path, localAddress, agent, headers: { accept: 'application/json' } }, (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode!));
          });
          request.on('error', reject);
          request.end();
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  return statuses;
}

describe('strangers naming a client', () => {
  // Over 6000 requests, answered by a broker in this same process: a few seconds on a quiet
  // machine, past the usual 20 s time limit when other work shares its two cores.
  it("at /auth, from many addresses each within its limit, do not make the client's real users wait", async () => {
    await clearOfWindowEnd(DAY);
    // The default limits: 300 authorization requests per address. (They were also 6000 per client.)
    const tb = await startTestBroker({ rate_limits: { window_seconds: DAY } }, 'rate-limits-strangers');
    const port = Number(new URL(tb.issuer).port);
    const addresses = Array.from({ length: 21 }, (_, i) => `127.0.0.${i + 2}`);
    const named = `/auth?${new URLSearchParams({ client_id: webClient.client_id })}`;
    const statuses = (await Promise.all(addresses.map((address) => getFrom(port, address, named, 290)))).flat();
    expect(statuses.length).toBeGreaterThan(6000);
    // A person logging in to that client gets through.
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const tokens = await rp.redeem(await logIn(rp));
    expect(tokens.claims()?.sub).toEqual(expect.any(String));
    // And none of the strangers' requests was refused for the client, each address being within its own limit.
    expect(statuses.filter((status) => status === 429)).toEqual([]);
  }, 90_000);

  it("at the token endpoint, a public client's id in the query proves nothing and uses up none of its allowance", async () => {
    await clearOfWindowEnd();
    const spa = { client_id: 'spa', redirect_uris: ['https://spa.example/callback'], token_endpoint_auth_method: 'none' as const };
    const tb = await startTestBroker(
      { trust_proxy: true, clients: [webClient, spa], rate_limits: { window_seconds: LONG_WINDOW, auth: off, token: { per_ip: 0, per_client: 2 }, eid_start: off } },
      'rate-limits-public-client',
    );
    const redeemFrom = async (address: string) =>
      (
        await fetch(`${tb.issuer}/token?client_id=${spa.client_id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': address },
          body: new URLSearchParams({ grant_type: 'authorization_code', code: 'not-a-code', code_verifier: 'v'.repeat(43), redirect_uri: spa.redirect_uris[0]!, client_id: spa.client_id }),
        })
      ).status;
    const statuses = [];
    for (const address of ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4']) statuses.push(await redeemFrom(address));
    expect(statuses).toEqual([400, 400, 400, 400]);
  });
});

describe('an instance that counts as many keys as it may', () => {
  it('counts a new address in the store before it answers, and limits it all the same', async () => {
    const { tb, prefix } = await tokenLimitedBroker('rate-limits-full', { per_ip: 2, per_client: 0 }, { local_counters: 2 });
    const redeemFrom = (address: string) => refreshStatus(tb, address, { body: { client_id: webClient.client_id } });
    // Two addresses fill the instance's counters; the third's requests are counted in the store as they come.
    expect(await redeemFrom('198.51.100.1')).toBe(401);
    expect(await redeemFrom('198.51.100.2')).toBe(401);
    expect(await redeemFrom('198.51.100.3')).toBe(401);
    expect((await rateLimitCounts(prefix, 'token'))['ip:198.51.100.3']).toBe(1);
    expect(await statusesOf(2, () => redeemFrom('198.51.100.3'))).toEqual([401, 429]);
    // The addresses counted here are still limited here, and reach the store with the next send.
    expect(await statusesOf(2, () => redeemFrom('198.51.100.1'))).toEqual([401, 429]);
    await tb.broker.rateLimits.flush();
    expect(await rateLimitCounts(prefix, 'token')).toEqual({ 'ip:198.51.100.1': 3, 'ip:198.51.100.2': 1, 'ip:198.51.100.3': 3 });
  });
});

describe('requests an address sends over its limit, each naming a new client', () => {
  // Refused at once, they made a count for their client all the same: the instance's counters
  // filled with names the sender chose, and past them each refused request went to Redis (an
  // increment and its give-back) and left a key there. One address made Redis work at its pace.
  it('are refused without a count for their client, here or in the store', async () => {
    const { tb, prefix } = await tokenLimitedBroker('rate-limits-named', { per_ip: 2, per_client: 100 }, { local_counters: 4 });
    const redeemAs = (clientId: string) => refreshStatus(tb, '203.0.113.9', { headers: basicOf(clientId, 'not-its-secret') });
    const statuses = [];
    for (let i = 0; i < 12; i += 1) statuses.push(await redeemAs(`named-${i}`));
    expect(statuses).toEqual([401, 401, ...Array<number>(10).fill(429)]);
    await tb.broker.rateLimits.flush();
    const counted = Object.keys(await rateLimitCounts(prefix, 'token'));
    // Not one of them proved its client: none is counted against any, nor leaves a key behind.
    expect(counted.filter((key) => key.startsWith('client:'))).toEqual([]);
  });
});

describe('eID starts, per IP address', () => {
  it('answer 429 once over the limit, before the eID is asked', async () => {
    await clearOfWindowEnd();
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
