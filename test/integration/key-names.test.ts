import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicClient, startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { redisUrl } from '../support/redis.js';
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
let tb: TestBroker;
let spa: RelyingParty;
const redis = new Redis(redisUrl);

beforeAll(async () => {
  tb = await startTestBroker({ subject_secret: SUBJECT_SECRET, rate_limits: { enabled: false } }, 'key-names');
  spa = await RelyingParty.discover(tb.issuer, publicClient);
});
afterAll(() => redis.quit());

/** A login through a pushed request: the request_uri, the code's callback and the session cookie. */
async function loginThroughPar() {
  const url = await spa.pushedAuthorizationUrl({ scope: 'openid offline_access', prompt: 'consent' });
  const started = await spa.browser.follow(url);
  const { leftTo } = await spa.browser.follow(`${started.response.url}?person=0`);
  const session = /(?:^|; )_session=([^;]+)/.exec(spa.browser.cookieHeader(new URL(`${tb.issuer}/auth`)))?.[1];
  return { requestUri: url.searchParams.get('request_uri')!, callback: leftTo!, session: session! };
}

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

  /** Moves the record of `model` with id `id` to where a broker before hashed key names kept it: its id in the key, and in the record. */
  async function writtenBefore(model: string, id: string) {
    const hashed = `${tb.prefix}oidc:${model}:${keyNames.of(id)}`;
    const former = `${tb.prefix}oidc:${model}:${id}`;
    const record = JSON.parse((await redis.hget(hashed, 'v'))!) as Record<string, unknown>;
    await redis.rename(hashed, former);
    await redis.hset(former, 'v', JSON.stringify({ ...record, jti: id }));
    const grantIndex = `${tb.prefix}oidc:grant:${String(record.grantId)}`;
    await redis.srem(grantIndex, `oidc:${model}:${keyNames.of(id)}`);
    await redis.sadd(grantIndex, `oidc:${model}:${id}`);
  }

  it('tokens issued before the upgrade still work until they are used up or revoked', async () => {
    const { callback } = await loginThroughPar();
    const redeemed = await tokenRequest(tb.issuer, publicClient, codeRedemption(spa, callback));
    const accessToken = redeemed.body.access_token as string;
    const refreshToken = redeemed.body.refresh_token as string;
    await writtenBefore('AccessToken', accessToken);
    await writtenBefore('RefreshToken', refreshToken);
    expect((await fetch(`${tb.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(200);
    const refreshed = await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: refreshToken });
    expect(refreshed.status).toBe(200);
    // Used once, the former refresh token is used up: its second use revokes the grant, the former access token with it.
    expect((await tokenRequest(tb.issuer, publicClient, { grant_type: 'refresh_token', refresh_token: refreshToken })).body.error).toBe('invalid_grant');
    expect((await fetch(`${tb.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(401);
    expect(await redis.exists(`${tb.prefix}oidc:AccessToken:${accessToken}`)).toBe(0);
  });
});
