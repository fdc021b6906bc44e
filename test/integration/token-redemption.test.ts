import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicClient, startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { startRedisServer, type RedisServer } from '../support/redis.js';
import { codeRedemption, logIn, RelyingParty } from '../support/relying-party.js';

/**
 * A code or refresh token is redeemed once. Used again — in sequence or in parallel — the
 * whole login is revoked; but a retry of a redemption the store failed still redeems.
 */

const ROUNDS = 15;
const PARALLEL = 10;

async function userinfoStatus(issuer: string, accessToken: string): Promise<number> {
  const response = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status;
}

const offline = { scope: 'openid offline_access', prompt: 'consent' };

/**
 * Sends the token request `body` PARALLEL times at once: exactly one gets tokens, the others
 * invalid_grant, and the winner's access and refresh tokens are revoked with the grant.
 */
async function expectOneWinnerThenRevoked(issuer: string, client: { client_id: string; client_secret?: string }, body: Record<string, string>, round: string) {
  const responses = await Promise.all(Array.from({ length: PARALLEL }, () => tokenRequest(issuer, client, body)));
  const issued = responses.filter((r) => r.status === 200);
  expect(issued, round).toHaveLength(1);
  for (const refused of responses.filter((r) => r.status !== 200)) expect(refused.body.error, round).toBe('invalid_grant');

  const winner = issued[0]!.body;
  expect(await userinfoStatus(issuer, winner.access_token as string), round).toBe(401);
  const refreshed = await tokenRequest(issuer, client, { grant_type: 'refresh_token', refresh_token: winner.refresh_token as string });
  expect(refreshed.body.error, round).toBe('invalid_grant');
}

describe('parallel reuse', () => {
  let tb: TestBroker;
  let rp: RelyingParty;
  let spa: RelyingParty;

  beforeAll(async () => {
    tb = await startTestBroker({ rate_limits: { enabled: false } }, 'parallel-reuse');
    rp = await RelyingParty.discover(tb.issuer, webClient);
    spa = await RelyingParty.discover(tb.issuer, publicClient);
  });

  it(`of a code (${PARALLEL} at once, ${ROUNDS} rounds): one token set each round, and it is revoked`, async () => {
    for (let round = 0; round < ROUNDS; round += 1) {
      await expectOneWinnerThenRevoked(tb.issuer, webClient, codeRedemption(rp, await logIn(rp, offline)), `round ${round}`);
    }
  }, 60_000);

  it(`of a rotated refresh token (${PARALLEL} at once, ${ROUNDS} rounds): one refresh each round, and the family is revoked`, async () => {
    for (let round = 0; round < ROUNDS; round += 1) {
      const tokens = await spa.redeem(await logIn(spa, offline));
      await expectOneWinnerThenRevoked(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, `round ${round}`);
    }
  }, 60_000);
});

describe('a retry after the store stalled', () => {
  let redis: RedisServer;
  let tb: TestBroker;
  let rp: RelyingParty;
  let spa: RelyingParty;
  let admin: Redis;

  beforeAll(async () => {
    redis = await startRedisServer();
    // No rate limits: their counter is the first write of a token request, and this is about
    // the consume, the write that follows the reads of the code or refresh token.
    tb = await startTestBroker({ redis: { url: redis.url, key_prefix: 'stall:' }, rate_limits: { enabled: false } }, 'stall');
    rp = await RelyingParty.discover(tb.issuer, webClient);
    spa = await RelyingParty.discover(tb.issuer, publicClient);
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin.disconnect();
    await tb.close();
    await redis.stop();
  });

  /**
   * Sends `request` while Redis holds every write for 1.5 s (longer than the command timeout):
   * it gets 503, and its consume runs in Redis once the pause ends. Then the client retries.
   */
  async function stalledThenRetried<T extends { status: number; body: Record<string, unknown> }>(request: () => Promise<T>): Promise<T> {
    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    const stalled = await request();
    expect(stalled.status).toBe(503);
    expect(stalled.body.error).toBe('temporarily_unavailable');
    // A write of our own waits out the pause: after it, whatever the broker sent has run.
    await admin.set('stall:pause-over', '1');
    return request();
  }

  it('redeems a code', async () => {
    const body = codeRedemption(rp, await logIn(rp));
    const retried = await stalledThenRetried(() => tokenRequest(tb.issuer, webClient, body));
    expect(retried.status).toBe(200);
    expect(await userinfoStatus(tb.issuer, retried.body.access_token as string)).toBe(200);
  });

  it('refreshes with a rotated refresh token', async () => {
    const tokens = await spa.redeem(await logIn(spa, offline));
    const body = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! };
    const retried = await stalledThenRetried(() => tokenRequest(tb.issuer, publicClient, body));
    expect(retried.status).toBe(200);
    expect(await userinfoStatus(tb.issuer, retried.body.access_token as string)).toBe(200);
    const next = await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: retried.body.refresh_token as string });
    expect(next.status).toBe(200);
  });

  it("a single-page app's script may read the 503 and its Retry-After (CORS)", async () => {
    const tokens = await spa.redeem(await logIn(spa, offline));
    const fromTheApp = async () => {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: publicClient.client_id });
      const response = await fetch(`${tb.issuer}/token`, { method: 'POST', headers: { origin: new URL(publicClient.redirect_uris[0]!).origin, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
      return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
    };
    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    const stalled = await fromTheApp();
    expect(stalled.status).toBe(503);
    expect(stalled.headers.get('access-control-allow-origin')).toBe('https://spa.example');
    expect(stalled.headers.get('retry-after')).toBe('1');
    expect(stalled.headers.get('access-control-expose-headers')?.split(/, */)).toContain('Retry-After');
    await admin.set('stall:pause-over', '1');
    expect((await fromTheApp()).status).toBe(200);
  });
});
