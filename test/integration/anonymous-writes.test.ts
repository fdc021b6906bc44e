import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { clearOfWindowEnd, LONG_WINDOW } from '../support/rate-windows.js';
import { redisUrl } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';

const INTERACTION_TTL = 1;
/** How much longer a login lives for an eID started at its last moment (ttl.eid_extension). */
const EID_EXTENSION = 1;
/** A login's whole life: what the set of logins in progress counts it for. */
const LOGIN_LIFE = INTERACTION_TTL + EID_EXTENSION;
let tb: TestBroker;
let limited: TestBroker;
let rp: RelyingParty;
const redis = new Redis(redisUrl);

beforeAll(async () => {
  tb = await startTestBroker({ ttl: { interaction: INTERACTION_TTL, eid_extension: EID_EXTENSION, session: 8 * 3600 }, rate_limits: { enabled: false } }, 'anonymous-writes');
  limited = await startTestBroker({ rate_limits: { window_seconds: LONG_WINDOW, logout: { per_ip: 3 } } }, 'anonymous-writes-limited');
  rp = await RelyingParty.discover(tb.issuer, webClient);
});
afterAll(() => redis.quit());

const keysOf = async (broker: TestBroker, pattern = '*') => redis.keys(`${broker.prefix}${pattern}`);

describe('an anonymous GET /session/end', () => {
  it('stores its session no longer than a login may take, not for ttl.session', async () => {
    const response = await fetch(`${tb.issuer}/session/end?state=${'s'.repeat(500)}`);
    expect(response.status).toBe(200);
    const sessions = await keysOf(tb, 'oidc:Session:*');
    expect(sessions.length).toBeGreaterThan(0);
    for (const key of sessions) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(INTERACTION_TTL * 1000);
    }
  });

  it('with an overlong state (or any parameter) → 400 invalid_request, and nothing stored', async () => {
    const before = (await keysOf(tb)).length;
    for (const query of [`state=${'s'.repeat(7000)}`, `ui_locales=${'x'.repeat(2000)}`, `id_token_hint=${'a'.repeat(9000)}`, `post_logout_redirect_uri=https://rp.example/${'p'.repeat(3000)}`]) {
      const response = await fetch(`${tb.issuer}/session/end?${query}`, { headers: { accept: 'application/json' } });
      expect(response.status, query.slice(0, 20)).toBe(400);
      expect(await response.json()).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('too long') });
    }
    expect((await keysOf(tb)).length).toBe(before);
  });

  it('is rate limited per address (429 with Retry-After)', async () => {
    await clearOfWindowEnd();
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await fetch(`${limited.issuer}/session/end`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe('authorization requests with overlong parameters', () => {
  it('in the query → 400 invalid_request before anything is stored', async () => {
    const url = await rp.authorizationUrl({ state: 's'.repeat(7000) });
    const response = await fetch(url, { redirect: 'manual', headers: { accept: 'application/json' } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('pushed (PAR) → invalid_request at the client before the login is stored', async () => {
    const pushed = Object.fromEntries((await rp.authorizationUrl({ login_hint: 'h'.repeat(3000) })).searchParams);
    const par = await tokenRequest(tb.issuer, webClient, pushed, '/request');
    expect(par.status).toBe(201);
    const { leftTo } = await rp.browser.follow(`${tb.issuer}/auth?client_id=${webClient.client_id}&request_uri=${encodeURIComponent(String(par.body.request_uri))}`);
    expect(leftTo?.searchParams.get('error')).toBe('invalid_request');
    expect(leftTo?.searchParams.get('error_description')).toContain('login_hint is too long');
  });
});

describe('the set of logins in progress (metrics:interactions)', () => {
  it('is pruned while logins start, without a scrape of /metrics', async () => {
    const started = Date.now();
    // Logins started and abandoned for a few of their lifetimes, nobody scraping /metrics.
    while (Date.now() - started < 4 * LOGIN_LIFE * 1000) {
      await fetch(await rp.authorizationUrl(), { redirect: 'manual' });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const [key] = await keysOf(tb, 'metrics:interactions');
    const scores = (await redis.zrange(key!, '0', '-1', 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
    // Without pruning the first abandoned logins, dead for three lifetimes, would still be there.
    expect(Math.min(...scores)).toBeGreaterThan(Date.now() - 2.5 * LOGIN_LIFE * 1000);
  });
});
