import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicClient, startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { startRedisPassage, startRedisServer, type RedisPassage, type RedisServer } from '../support/redis.js';
import { codeRedemption, logIn, RelyingParty } from '../support/relying-party.js';
import { KeyNames } from '../../src/store/key-names.js';

/**
 * Redis asleep (DEBUG SLEEP, longer than the command timeout and than Retry-After), or its
 * connection dropped, at each step of a token request: the read of the code or refresh token,
 * its consume, the writes of the new tokens. The client gets 503 temporarily_unavailable, never
 * a hang or invalid_grant; retrying the very same request after Retry-After gets one token set,
 * and the code or refresh token is then used up as usual.
 */

const PREFIX = 'sleep:';
const SLEEP_SECONDS = 3;
/** The broker's subject secret: the key of the hashes that name codes and tokens in Redis. */
const SUBJECT_SECRET = 'a-sleeping-subject-secret-long-enough-0123456789';
const keyNames = new KeyNames(SUBJECT_SECRET);

let redis: RedisServer;
let passage: RedisPassage;
let tb: TestBroker;
let rp: RelyingParty;
let spa: RelyingParty;

beforeAll(async () => {
  redis = await startRedisServer({ args: ['--enable-debug-command', 'yes'] });
  passage = await startRedisPassage(redis);
  // No rate limits: their counter would be the first command of each token request.
  tb = await startTestBroker({ redis: { url: passage.url, key_prefix: PREFIX }, subject_secret: SUBJECT_SECRET, rate_limits: { enabled: false } }, 'sleep', { prefix: PREFIX });
  rp = await RelyingParty.discover(tb.issuer, webClient);
  spa = await RelyingParty.discover(tb.issuer, publicClient);
}, 60_000);
afterAll(async () => {
  await tb?.close();
  await passage?.close();
  await redis?.stop();
});

type TokenAnswer = Awaited<ReturnType<typeof tokenRequest>>;

/** The client's way with 503: the same request again after Retry-After, until it is answered otherwise. */
async function retriedWhileUnavailable(send: () => Promise<TokenAnswer>): Promise<{ first: TokenAnswer; last: TokenAnswer }> {
  const first = await send();
  let last = first;
  for (let tries = 0; last.status === 503 && tries < 60; tries += 1) {
    expect(last.body.error).toBe('temporarily_unavailable');
    await new Promise((resolve) => setTimeout(resolve, Number(last.headers.get('retry-after')) * 1000));
    last = await send();
  }
  return { first, last };
}

async function userinfoStatus(accessToken: string): Promise<number> {
  const response = await fetch(`${tb.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status;
}

/** The bytes of a command on `key` (prefixed): its read (HGETALL), or the consume (key, time, claim). */
const steps = {
  read: (key: string) => new RegExp(`hgetall\\r\\n\\$\\d+\\r\\n${PREFIX}${key}\\r\\n`, 'i'),
  consume: (key: string) => new RegExp(`\\r\\n${PREFIX}${key}\\r\\n\\$\\d+\\r\\n\\d+\\r\\n\\$36\\r\\n`),
  'write of the new access token': () => new RegExp(`\\r\\n${PREFIX}oidc:AccessToken:[^\\r]+\\r\\n`),
};

/** The steps at which the connection is dropped: those above, and the write of the grant's index, the last. */
const cutSteps = { ...steps, "write of the grant's index": () => new RegExp(`\\r\\n${PREFIX}oidc:grant:[^\\r]+\\r\\n`) };

describe('Redis asleep during the code exchange', () => {
  it.each(Object.keys(steps) as Array<keyof typeof steps>)('at the %s: 503, then the same code redeems once', async (step) => {
    const body = codeRedemption(rp, await logIn(rp));
    const asleep = passage.sleepAt(steps[step](`oidc:AuthorizationCode:${keyNames.of(body.code!)}`), SLEEP_SECONDS);
    const { first, last } = await retriedWhileUnavailable(() => tokenRequest(tb.issuer, webClient, body));
    await asleep;
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(last.status).toBe(200);
    expect(await userinfoStatus(last.body.access_token as string)).toBe(200);
    // Used up now: a replay is refused, and revokes what it got.
    expect((await tokenRequest(tb.issuer, webClient, body)).body.error).toBe('invalid_grant');
    expect(await userinfoStatus(last.body.access_token as string)).toBe(401);
  }, 60_000);
});

describe('Redis asleep during a refresh', () => {
  it.each(Object.keys(steps) as Array<keyof typeof steps>)('at the %s: 503, then the same refresh token refreshes once', async (step) => {
    const tokens = await spa.redeem(await logIn(spa, { scope: 'openid offline_access', prompt: 'consent' }));
    const body = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! };
    const asleep = passage.sleepAt(steps[step](`oidc:RefreshToken:${keyNames.of(tokens.refresh_token!)}`), SLEEP_SECONDS);
    const { first, last } = await retriedWhileUnavailable(() => tokenRequest(tb.issuer, publicClient, body));
    await asleep;
    expect(first.status).toBe(503);
    expect(last.status).toBe(200);
    expect(await userinfoStatus(last.body.access_token as string)).toBe(200);
    // The rotated refresh token refreshes on; the old one is used up.
    const next = await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: last.body.refresh_token as string });
    expect(next.status).toBe(200);
    expect((await tokenRequest(tb.issuer, publicClient, body)).body.error).toBe('invalid_grant');
  }, 60_000);
});

/** A token request whose connection to Redis `dropped` midway: 503, then the very same request gets one token set, and is used up after it. */
async function redeemedOnceAfterDrop(client: Parameters<typeof tokenRequest>[1], body: Record<string, string>, dropped: Promise<void>): Promise<void> {
  const { first, last } = await retriedWhileUnavailable(() => tokenRequest(tb.issuer, client, body));
  await dropped;
  expect(first.status).toBe(503);
  expect(last.status).toBe(200);
  expect(await userinfoStatus(last.body.access_token as string)).toBe(200);
  expect((await tokenRequest(tb.issuer, client, body)).body.error).toBe('invalid_grant');
}

// A drop after the consume ran took with it the release the 503 sends: the retry met a used
// code (invalid_grant, the login revoked) although no token had been issued.
describe('the connection to Redis dropped during a token request', () => {
  it("as the consume's answer comes back, of a code exchange: 503, then the same code redeems once", async () => {
    const body = codeRedemption(rp, await logIn(rp));
    await redeemedOnceAfterDrop(webClient, body, passage.cutAfter(steps.consume(`oidc:AuthorizationCode:${keyNames.of(body.code!)}`)));
  }, 60_000);

  it.each(Object.keys(cutSteps) as Array<keyof typeof cutSteps>)('at the %s of a code exchange: 503, then the same code redeems once', async (step) => {
    const body = codeRedemption(rp, await logIn(rp));
    await redeemedOnceAfterDrop(webClient, body, passage.cutAt(cutSteps[step](`oidc:AuthorizationCode:${keyNames.of(body.code!)}`)));
  }, 60_000);

  it.each(Object.keys(cutSteps) as Array<keyof typeof cutSteps>)('at the %s of a refresh: 503, then the same refresh token refreshes once', async (step) => {
    const tokens = await spa.redeem(await logIn(spa, { scope: 'openid offline_access', prompt: 'consent' }));
    const body = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! };
    await redeemedOnceAfterDrop(publicClient, body, passage.cutAt(cutSteps[step](`oidc:RefreshToken:${keyNames.of(tokens.refresh_token!)}`)));
  }, 60_000);
});
