import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { capturingLog, everythingReadable } from '../support/ops.js';
import { redisUrl } from '../support/redis.js';
import { codeRedemption, logIn, RelyingParty } from '../support/relying-party.js';
import { testPersons } from '../support/test-double-eid.js';

const PERSONAL_NUMBER = testPersons[1]!.PersonalNumber!;
const SECOND_KEY = 'a-second-store-encryption-key-of-the-tests-0001';
let tb: TestBroker;
let rp: RelyingParty;
const redis = new Redis(redisUrl);

beforeAll(async () => {
  tb = await startTestBroker({ store_encryption_keys: ['the-store-encryption-key-of-the-tests-00000001'] }, 'personal-data');
  rp = await RelyingParty.discover(tb.issuer, webClient);
});
afterAll(() => redis.quit());

describe('personal numbers in Redis', () => {
  it('are never in clear: neither a login_hint in a login in progress nor the identity behind issued tokens', async () => {
    const started = await rp.authorize({ acr_values: 'urn:test:test-double', login_hint: `personal_number:${PERSONAL_NUMBER}` });
    expect(started.response.url).toContain('/decide');
    expect(await everythingReadable(tb.prefix)).not.toContain(PERSONAL_NUMBER);

    const tokens = await rp.redeem(await logIn(rp, {}, 'person=1&via=callback'));
    const stored = await everythingReadable(tb.prefix);
    expect(stored).not.toContain(PERSONAL_NUMBER);
    expect(stored).not.toContain('Andersson');
    // …and the broker reads them back: userinfo has the person.
    expect(await rp.userinfo(tokens.access_token, tokens.claims()!.sub)).toMatchObject({ personal_number: PERSONAL_NUMBER, family_name: 'Andersson' });
  });

  it('are never in clear, nor base64url-encoded, in a pushed request (PAR): neither while it waits for the browser nor once its login runs', async () => {
    const url = await rp.pushedAuthorizationUrl({ acr_values: 'urn:test:test-double', login_hint: `personal_number:${PERSONAL_NUMBER}` });
    expect(await everythingReadable(tb.prefix)).not.toContain(PERSONAL_NUMBER);
    const started = await rp.browser.follow(url);
    expect(started.response.url).toContain('/decide');
    expect(await everythingReadable(tb.prefix)).not.toContain(PERSONAL_NUMBER);
  });

  it('are never in clear, nor base64url-encoded, when a claims parameter asks for the person by value: not in the code, the tokens, nor those a refresh issues', async () => {
    // The id_token's by `value`, userinfo's by `values`; acr_values adds an acr by `values` of its own.
    const claims = {
      id_token: { personal_number: { value: PERSONAL_NUMBER } },
      userinfo: { personal_number: { values: [PERSONAL_NUMBER, '190001011234'] } },
    };
    const params = { claims: JSON.stringify(claims), acr_values: 'urn:test:test-double', scope: 'openid personal_number offline_access', prompt: 'consent' };
    const callback = await logIn(rp, params, 'person=1');
    expect(await everythingReadable(tb.prefix)).not.toContain(PERSONAL_NUMBER);

    const tokens = await rp.redeem(callback);
    expect(tokens.refresh_token).toBeDefined();
    const refreshed = await tokenRequest(tb.issuer, webClient, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.status).toBe(200);
    expect(await everythingReadable(tb.prefix)).not.toContain(PERSONAL_NUMBER);
    // …and the broker reads them back: the refreshed access token's userinfo has the person.
    const userinfo = await rp.userinfo(String(refreshed.body.access_token), tokens.claims()!.sub);
    expect(userinfo).toMatchObject({ personal_number: PERSONAL_NUMBER });
  });

  it('stay readable after the key is rotated (a new key prepended)', async () => {
    const tokens = await rp.redeem(await logIn(rp, {}, 'person=1'));
    await tb.broker.close();
    const rotated = await startTestBroker(
      { port: Number(new URL(tb.issuer).port), store_encryption_keys: [SECOND_KEY, 'the-store-encryption-key-of-the-tests-00000001'] },
      'personal-data',
      { prefix: tb.prefix },
    );
    const again = await RelyingParty.discover(rotated.issuer, webClient);
    expect(await again.userinfo(tokens.access_token, tokens.claims()!.sub)).toMatchObject({ personal_number: PERSONAL_NUMBER });
  });
});

describe('a record sealed with a key store_encryption_keys no longer lists', () => {
  it('fails its request with server_error, and the log says why under the traceId the answer carries', async () => {
    const first = await startTestBroker({ store_encryption_keys: ['the-store-encryption-key-of-the-tests-00000001'] }, 'dropped-key');
    const firstRp = await RelyingParty.discover(first.issuer, webClient);
    const callback = await logIn(firstRp);
    await first.broker.close();
    // The operator replaced the key instead of prepending a new one: the code is sealed with one that is gone.
    const { log, lines } = capturingLog();
    const replaced = await startTestBroker({ port: Number(new URL(first.issuer).port), store_encryption_keys: [SECOND_KEY] }, 'dropped-key', {
      prefix: first.prefix,
      log,
    });

    const answer = await tokenRequest(replaced.issuer, webClient, codeRedemption(firstRp, callback));

    expect(answer.status).toBe(500);
    expect(answer.body.error).toBe('server_error');
    const traceId = answer.headers.get('traceid');
    expect(traceId).toMatch(/^[0-9a-f]{16}$/);
    expect(lines().filter((line) => line.traceId === traceId && line.level === 50)).toEqual([
      expect.objectContaining({ err: expect.objectContaining({ message: expect.stringContaining('which store_encryption_keys no longer lists') }) }),
    ]);
  });
});
