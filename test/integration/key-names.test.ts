import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicClient, startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { redisUrl, uniquePrefix } from '../support/redis.js';
import { codeRedemption, RelyingParty } from '../support/relying-party.js';
import { KeyNames } from '../../src/store/key-names.js';
import { everythingStored, keysHolding } from '../support/stored-in-redis.js';

/**
 * A copy of Redis holds no credential: after a login (through a pushed request), a code
 * redemption and a refresh, no key in the store names — and no record, set or stream holds — the
 * access token, the refresh token, the code, the session cookie's value or the request_uri.
 * The tokens still work through every endpoint that reads them.
 */

/** The broker's subject secret: the key of the hashes that name credentials in Redis. */
const SUBJECT_SECRET = 'a-key-names-subject-secret-long-enough-0123456789';
const keyNames = new KeyNames(SUBJECT_SECRET);
/** Where the first instance of a broker with hashed key names wrote when it started. */
const hashedSinceKey = (prefix: string) => `${prefix}keys:key-names-hashed-since`;
let tb: TestBroker;
let spa: RelyingParty;
let startedAt: number;
const redis = new Redis(redisUrl);

beforeAll(async () => {
  startedAt = Date.now();
  tb = await startTestBroker({ subject_secret: SUBJECT_SECRET, rate_limits: { enabled: false } }, 'key-names');
  spa = await RelyingParty.discover(tb.issuer, publicClient);
});
afterAll(() => redis.quit());

/** A login through a pushed request: the request_uri, the code's callback and the session cookie. */
async function loginThroughPar(at = tb, rp = spa) {
  const url = await rp.pushedAuthorizationUrl({ scope: 'openid offline_access', prompt: 'consent' });
  const started = await rp.browser.follow(url);
  const { leftTo } = await rp.browser.follow(`${started.response.url}?person=0`);
  const session = /(?:^|; )_session=([^;]+)/.exec(rp.browser.cookieHeader(new URL(`${at.issuer}/auth`)))?.[1];
  return { requestUri: url.searchParams.get('request_uri')!, callback: leftTo!, session: session! };
}

/** A login's access and refresh tokens, each then moved to where a broker before hashed key names kept it. */
async function tokensWrittenBefore(at = tb, rp = spa) {
  const { callback } = await loginThroughPar(at, rp);
  const redeemed = await tokenRequest(at.issuer, publicClient, codeRedemption(rp, callback));
  const accessToken = redeemed.body.access_token as string;
  const refreshToken = redeemed.body.refresh_token as string;
  await writtenBefore(at.prefix, 'AccessToken', accessToken);
  await writtenBefore(at.prefix, 'RefreshToken', refreshToken);
  return { accessToken, refreshToken };
}

/** Moves the record of `model` with id `id` to where a broker before hashed key names kept it: its id in the key, and in the record. */
async function writtenBefore(prefix: string, model: string, id: string) {
  const hashed = `${prefix}oidc:${model}:${keyNames.of(id)}`;
  const former = `${prefix}oidc:${model}:${id}`;
  const record = JSON.parse((await redis.hget(hashed, 'v'))!) as Record<string, unknown>;
  await redis.rename(hashed, former);
  await redis.hset(former, 'v', JSON.stringify({ ...record, jti: id }));
  const grantIndex = `${prefix}oidc:grant:${String(record.grantId)}`;
  await redis.srem(grantIndex, `oidc:${model}:${keyNames.of(id)}`);
  await redis.sadd(grantIndex, `oidc:${model}:${id}`);
}

const userinfoStatus = async (at: TestBroker, accessToken: string) => (await fetch(`${at.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

describe('key names of credentials', () => {
  it('after a login, a redemption and a refresh, nothing in Redis names the tokens, the code, the session or the request_uri; they all still work', async () => {
    const { requestUri, callback, session } = await loginThroughPar();
    expect(session).toBeTruthy();
    const code = callback.searchParams.get('code')!;
    const redeemed = await tokenRequest(tb.issuer, publicClient, codeRedemption(spa, callback));
    expect(redeemed.status).toBe(200);
    const refreshed = await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: redeemed.body.refresh_token as string });
    expect(refreshed.status).toBe(200);
    const credentials = {
      code,
      requestUri,
      // The request_uri's own part: urn:ietf:params:oauth:request_uri:<id>.
      requestUriId: requestUri.split(':').pop()!,
      session,
      accessToken: redeemed.body.access_token as string,
      refreshToken: redeemed.body.refresh_token as string,
      refreshedAccessToken: refreshed.body.access_token as string,
      refreshedRefreshToken: refreshed.body.refresh_token as string,
    };
    const stored = await everythingStored(redis, tb.prefix);
    expect(stored.length).toBeGreaterThan(0);
    for (const [name, value] of Object.entries(credentials)) {
      expect(keysHolding(stored, value), name).toEqual([]);
    }

    const userinfo = await fetch(`${tb.issuer}/me`, { headers: { authorization: `Bearer ${credentials.refreshedAccessToken}` } });
    expect(userinfo.status).toBe(200);
    const introspected = await tokenRequest(tb.issuer, webClient, { token: credentials.refreshedRefreshToken }, '/token/introspection');
    expect(introspected.status).toBe(200);
    // Another client's token: introspection says only that it is not active for this one.
    expect(introspected.body.active).toBe(false);
    const revoked = await tokenRequest(tb.issuer, publicClient, { token: credentials.refreshedRefreshToken }, '/token/revocation');
    expect(revoked.status).toBe(200);
    const afterRevocation = await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: credentials.refreshedRefreshToken });
    expect(afterRevocation.body.error).toBe('invalid_grant');
  });

  it('tokens issued before the upgrade still work until they are used up or revoked', async () => {
    // The first instance wrote when hashed key names began: the start of the tokens' former lives.
    expect(Number(await redis.hget(hashedSinceKey(tb.prefix), 'v'))).toSatisfy((since: number) => since >= startedAt && since <= Date.now());
    const { accessToken, refreshToken } = await tokensWrittenBefore();
    expect(await userinfoStatus(tb, accessToken)).toBe(200);
    const refreshed = await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: refreshToken });
    expect(refreshed.status).toBe(200);
    // Used once, the former refresh token is used up: its second use revokes the grant, the former access token with it.
    expect((await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: refreshToken })).body.error).toBe('invalid_grant');
    expect(await userinfoStatus(tb, accessToken)).toBe(401);
    expect(await redis.exists(`${tb.prefix}oidc:AccessToken:${accessToken}`)).toBe(0);
  });

  it('once the longest lifetime of a credential has passed since hashed key names began, a former key is no longer read: what is still there is not found', async () => {
    const prefix = uniquePrefix('key-names-later');
    // Hashed key names began 40 days ago, longer than any token, code or session lives.
    const since = String(Date.now() - 40 * 24 * 3600 * 1000);
    await redis.hset(hashedSinceKey(prefix), 'v', since);
    const later = await startTestBroker({ subject_secret: SUBJECT_SECRET, rate_limits: { enabled: false } }, 'key-names-later', { prefix });
    const rp = await RelyingParty.discover(later.issuer, publicClient);
    const { accessToken, refreshToken } = await tokensWrittenBefore(later, rp);
    expect(await userinfoStatus(later, accessToken)).toBe(401);
    expect((await tokenRequest(later.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: refreshToken })).body.error).toBe('invalid_grant');
    // Written once, by the first instance: a later start keeps it.
    expect(await redis.hget(hashedSinceKey(prefix), 'v')).toBe(since);
  });
});
