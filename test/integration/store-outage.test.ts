import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { Scrape } from '../support/ops.js';
import { rateLimitCounts, startRedisServer, type RedisServer } from '../support/redis.js';
import { codeRedemption, logIn, RelyingParty } from '../support/relying-party.js';

/** A request cut off after this long counts as a hang: the broker must answer well before. */
const HANG = 5_000;
/** While Redis is down, every request that needs it is answered 503 within this. */
const WITHIN_A_SECOND = 1_000;

let redis: RedisServer;
let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  redis = await startRedisServer();
  tb = await startTestBroker({ redis: { url: redis.url, key_prefix: 'outage:' }, cookie_keys: ['k'.repeat(32)], subject_secret: 's'.repeat(32) }, 'outage');
  rp = await RelyingParty.discover(tb.issuer, webClient);
});
afterAll(() => redis.stop());

/** Redeeming a valid code while the store is unreachable: 503 temporarily_unavailable, never invalid_grant. */
async function expectCodeRedemptionUnavailable(callback: URL) {
  const token = await tokenRequest(tb.issuer, webClient, codeRedemption(rp, callback));
  expect(token.status).toBe(503);
  expect(token.body.error).toBe('temporarily_unavailable');
  expect(token.headers.get('retry-after')).toBe('1');
}

async function waitFor(condition: () => boolean | Promise<boolean>) {
  for (let i = 0; i < 100; i += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('condition never held');
}

describe('with Redis down', () => {
  it('answers 503 with Retry-After instead of hanging, and never a false "not found"', async () => {
    const callback = await logIn(rp);
    await redis.stop();
    await waitFor(() => !tb.broker.store.available);

    await expectCodeRedemptionUnavailable(callback);

    const authorization = await fetch(await rp.authorizationUrl(), { redirect: 'manual', signal: AbortSignal.timeout(HANG), headers: { accept: 'text/html' } });
    expect(authorization.status).toBe(503);
    expect(authorization.headers.get('retry-after')).toBe('1');
    const page = await authorization.text();
    expect(page).toContain(authorization.headers.get('traceid')!);

    const status = await fetch(`${tb.issuer}/api/status`, { signal: AbortSignal.timeout(HANG) });
    expect(await status.json()).toMatchObject({ status: 'ISSUES', store: { available: false } });

    const live = await fetch(`${tb.issuer}/health/live`, { signal: AbortSignal.timeout(HANG) });
    expect(live.status).toBe(200);
  });

  it('answers 503 within a second, everywhere state is needed; readiness says the store is unreachable', async () => {
    const requests: Array<[string, RequestInit]> = [
      [(await rp.authorizationUrl()).href, { headers: { accept: 'application/json' } }],
      [`${tb.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=authorization_code&code=x' }],
      [`${tb.issuer}/interaction/some-login`, { headers: { accept: 'application/json' } }],
      [`${tb.issuer}/me`, {}],
    ];
    for (const [url, init] of requests) {
      const response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(WITHIN_A_SECOND) });
      expect(response.status, url).toBe(503);
      expect(response.headers.get('retry-after'), url).toBe('1');
    }
    const ready = await fetch(`${tb.issuer}/health/ready`, { signal: AbortSignal.timeout(WITHIN_A_SECOND) });
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: { store: 'unreachable', signing_keys: 'ok' } });
    const metrics = await Scrape.of(`${tb.issuer}/metrics`);
    expect(metrics.value('neb_store_available')).toBe(0);
    // Unknown while the store is down (prom-client writes NaN as Nan, which Prometheus reads).
    expect(metrics.text).toMatch(/^neb_oidc_active_interactions nan$/im);
  });

  it('serves what needs no state: both discovery documents and the JWKS, and the preflights of single-page apps (CORS)', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks']) {
      const response = await fetch(`${tb.issuer}${path}`, { signal: AbortSignal.timeout(WITHIN_A_SECOND) });
      expect(response.status, path).toBe(200);
    }
    for (const path of ['/token', '/me', '/token/revocation']) {
      const preflight = await fetch(`${tb.issuer}${path}`, {
        method: 'OPTIONS',
        headers: { origin: 'https://spa.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
        signal: AbortSignal.timeout(WITHIN_A_SECOND),
      });
      expect(preflight.status, path).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin'), path).toBe('https://spa.example');
    }
    // The request after the preflight gets its 503, which the app's script may read.
    const userinfo = await fetch(`${tb.issuer}/me`, { headers: { origin: 'https://spa.example', authorization: 'Bearer x' }, signal: AbortSignal.timeout(WITHIN_A_SECOND) });
    expect(userinfo.status).toBe(503);
    expect(userinfo.headers.get('access-control-allow-origin')).toBe('https://spa.example');
  });

  it('recovers by itself when Redis is back', async () => {
    await redis.start();
    await waitFor(() => tb.broker.store.available);
    const tokens = await rp.redeem(await logIn(rp));
    expect(tokens.claims()).toMatchObject({ name: 'Tessa Testsson' });
    const ready = await fetch(`${tb.issuer}/health/ready`);
    expect(ready.status).toBe(200);
    expect((await Scrape.of(`${tb.issuer}/metrics`)).value('neb_store_available')).toBe(1);
  });
});

describe('with Redis hung', () => {
  it('answers 503 once a command times out, then works again', async () => {
    const callback = await logIn(rp);
    const admin = new Redis(redis.url);
    await admin.call('CLIENT', 'PAUSE', '2000', 'ALL');
    await expectCodeRedemptionUnavailable(callback);
    admin.disconnect();

    await new Promise((resolve) => setTimeout(resolve, 2_200));
    const tokens = await rp.redeem(await logIn(rp));
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  it('says so once a command got no answer: /api/status ISSUES, neb_store_available 0, and OK again once Redis answers', async () => {
    redis.pause();
    try {
      // An unknown code is looked up in the store: the request waits out the command timeout.
      const token = await tokenRequest(tb.issuer, webClient, { grant_type: 'authorization_code', code: 'unknown', redirect_uri: webClient.redirect_uris[0]! });
      expect(token.status).toBe(503);
      const status = await fetch(`${tb.issuer}/api/status`, { signal: AbortSignal.timeout(HANG) });
      expect(await status.json()).toMatchObject({ status: 'ISSUES', store: { available: false } });
      expect((await Scrape.of(`${tb.issuer}/metrics`)).value('neb_store_available')).toBe(0);
    } finally {
      redis.resume();
    }
    // Back by itself, though no request came meanwhile.
    await waitFor(() => tb.broker.store.answering);
    expect(await (await fetch(`${tb.issuer}/api/status`)).json()).toMatchObject({ status: 'OK', store: { available: true } });
    expect((await rp.redeem(await logIn(rp))).access_token).toEqual(expect.any(String));
  });
});

describe("a 503 of oidc-provider's own handlers", () => {
  it('the store timing out inside the authorization endpoint: the page carries Retry-After and counts it down, as every 503 of the broker does', async () => {
    const admin = new Redis(redis.url);
    await admin.call('CLIENT', 'PAUSE', '2000', 'ALL');
    const authorization = await fetch(await rp.authorizationUrl(), { redirect: 'manual', signal: AbortSignal.timeout(HANG), headers: { accept: 'text/html' } });
    admin.disconnect();
    expect(authorization.status).toBe(503);
    expect(authorization.headers.get('retry-after')).toBe('1');
    const page = await authorization.text();
    expect(page).toMatch(/<div id="try-again" data-how="reload" data-wait-seconds="1"/);
    expect(page).toContain(authorization.headers.get('traceid')!);
    await waitFor(() => tb.broker.store.available);
  });
});

describe('rate limits with Redis down', () => {
  it('keep the counts they could not send, and send them when Redis is back', async () => {
    const prefix = 'outage-limits:';
    // Counts held far longer than the test takes: only the flushes below send them. A day's window:
    // a window that ends between the requests and the last flush takes their counts with it (a
    // minute's did, on a slow machine, once in a while).
    const limited = await startTestBroker(
      { redis: { url: redis.url, key_prefix: prefix }, rate_limits: { flush_ms: 5000, window_seconds: 86_400 } },
      'outage-limits',
    );
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${limited.issuer}/session/end`)).status).toBe(200);

    await redis.stop();
    await waitFor(() => !limited.broker.store.available);
    await limited.broker.rateLimits.flush();
    expect((await Scrape.of(`${limited.issuer}/metrics`)).value('neb_rate_limit_flush_failures_total')).toBe(1);

    await redis.start();
    await waitFor(() => limited.broker.store.available);
    await limited.broker.rateLimits.flush();
    expect(await rateLimitCounts(prefix, 'logout', redis.url)).toEqual({ 'ip:127.0.0.1': 3 });
  });
});
