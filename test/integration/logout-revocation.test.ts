import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { startRedisPassage, startRedisServer, type RedisPassage, type RedisServer } from '../support/redis.js';
import { codeRedemption, logIn, RelyingParty } from '../support/relying-party.js';

/**
 * A confirmed RP-initiated logout ends the tokens the session's clients got without
 * offline_access (README, Logout): access tokens, refresh tokens of a client registered with
 * refresh_tokens_without_consent, codes not yet redeemed. Those issued with offline_access keep
 * working, and a logout the person declines ends nothing.
 */

/**
 * A client that gets a refresh token with every login, offline_access or not. Its front-channel
 * logout page makes a confirmed logout answer with the page that loads it, rather than the 303.
 */
const renewing = {
  client_id: 'renewing',
  client_secret: 'a-renewing-client-secret-long-enough-for-the-schema',
  redirect_uris: ['https://renewing.example/callback'],
  post_logout_redirect_uris: ['https://renewing.example/logged-out'],
  refresh_tokens_without_consent: true,
  frontchannel_logout_uri: 'https://renewing.example/frontchannel-logout',
};

function registrationOf(rp: RelyingParty): typeof webClient | typeof renewing {
  return rp.config.clientMetadata().client_id === renewing.client_id ? renewing : webClient;
}

/** What a client asks for to stay logged in after the browser session: offline_access, with prompt=consent as OIDC Core §11 wants. */
const OFFLINE = { scope: 'openid profile offline_access', prompt: 'consent' };

let tb: TestBroker;

beforeAll(async () => {
  tb = await startTestBroker({ clients: [webClient, renewing] }, 'logout-revocation');
});

/** Two relying parties in one browser: the same person logs in to both in one broker session. */
async function twoClientsInOneBrowser() {
  const browser = new TestBrowser(tb.issuer);
  return { web: await RelyingParty.discover(tb.issuer, webClient, browser), renew: await RelyingParty.discover(tb.issuer, renewing, browser) };
}

/** Whether a client's tokens still work: userinfo's status, introspection's `active`, and the refresh grant's answer. */
async function standing(rp: RelyingParty, tokens: { access_token: string; refresh_token?: string }) {
  const metadata = rp.config.serverMetadata();
  const registration = registrationOf(rp);
  const userinfo = await userinfoStatus(rp, tokens.access_token);
  const introspection = await tokenRequest(rp.issuer, registration, { token: tokens.access_token }, new URL(metadata.introspection_endpoint!).pathname);
  const refresh = await tokenRequest(rp.issuer, registration, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
  return { userinfo, active: introspection.body.active, refresh: refresh.body.error ?? 'renewed' };
}

async function userinfoStatus(rp: RelyingParty, accessToken: string): Promise<number> {
  return (await fetch(rp.config.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${accessToken}` } })).status;
}

const WORKING = { userinfo: 200, active: true, refresh: 'renewed' };
const REVOKED = { userinfo: 401, active: false, refresh: 'invalid_grant' };

/** The logout page's answer: "Yes, log out" sends logout=yes, "No, stay logged in" sends nothing more. */
type Answer = 'yes' | 'no';

/**
 * Asks for a logout as `rp`, with its ID token: by GET, or by a form POSTed to the
 * end_session_endpoint (which the broker sends on as a GET); then answers the confirmation page.
 */
async function logOut(rp: RelyingParty, idToken: string, method: 'GET' | 'POST', answer: Answer) {
  const endpoint = rp.config.serverMetadata().end_session_endpoint!;
  const request = new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: registrationOf(rp).post_logout_redirect_uris[0]! }).toString();
  const { response } = await (method === 'GET'
    ? rp.browser.follow(`${endpoint}?${request}`)
    : rp.browser.follow(endpoint, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: request }));
  expect(await response.text()).toContain('name="logout"');
  return answerLogout(rp, answer);
}

/**
 * Submits the confirmation page the browser was just shown (its xsrf is a hidden field) and
 * checks where the logout goes on to: straight back to the client when declined, by the
 * front-channel page ('renewing' is in every session here) when confirmed.
 */
async function answerLogout(rp: RelyingParty, answer: Answer) {
  const backToClient = registrationOf(rp).post_logout_redirect_uris[0]!;
  if (answer === 'no') {
    expect((await rp.browser.submit('/session/end/confirm', {})).leftTo?.href).toBe(backToClient);
    return;
  }
  const { response } = await rp.browser.submit('/session/end/confirm', { logout: 'yes' });
  expect(await response.text()).toContain(`data-continue="${backToClient}"`);
}

describe('a confirmed RP-initiated logout', () => {
  it('by GET: refuses the tokens of a client that logged in without offline_access, keeps those of one that asked for it', async () => {
    const { web, renew } = await twoClientsInOneBrowser();
    const online = await renew.redeem(await logIn(renew));
    const offline = await web.redeem(await logIn(web, OFFLINE));
    expect(online.refresh_token).toEqual(expect.any(String));
    expect(await standing(renew, online)).toEqual(WORKING);

    await logOut(web, offline.id_token!, 'GET', 'yes');

    expect(await standing(renew, online)).toEqual(REVOKED);
    expect(await standing(web, offline)).toEqual(WORKING);
  });

  it('by POST: reaches every login of a client in the session, not only its last one, and codes not yet redeemed', async () => {
    const renew = await RelyingParty.discover(tb.issuer, renewing);
    const offline = await renew.redeem(await logIn(renew, OFFLINE));
    const first = await renew.redeem(await logIn(renew));
    const second = await renew.redeem(await logIn(renew));
    const unredeemed = codeRedemption(renew, await logIn(renew));

    await logOut(renew, second.id_token!, 'POST', 'yes');

    expect(await standing(renew, first)).toEqual(REVOKED);
    expect(await standing(renew, second)).toEqual(REVOKED);
    expect((await tokenRequest(tb.issuer, renewing, unredeemed)).body.error).toBe('invalid_grant');
    expect(await standing(renew, offline)).toEqual(WORKING);
  });
});

describe('a logout the person declines', () => {
  it('revokes nothing; the confirmed one after it does, the declining client\'s logins too', async () => {
    const { web, renew } = await twoClientsInOneBrowser();
    const online = await renew.redeem(await logIn(renew));
    const other = await web.redeem(await logIn(web));

    await logOut(web, other.id_token!, 'GET', 'no');
    expect(await standing(renew, online)).toEqual(WORKING);
    expect(await userinfoStatus(web, other.access_token)).toBe(200);

    await logOut(renew, online.id_token!, 'GET', 'yes');
    expect(await standing(renew, online)).toEqual(REVOKED);
    expect(await userinfoStatus(web, other.access_token)).toBe(401);
  });
});

/**
 * Runs a login of `rp` up to the browser's return to the broker's /auth/<uid> (the person has
 * approved), and gives that URL without following it.
 */
async function approvedUpToReturn(rp: RelyingParty): Promise<URL> {
  const started = await rp.authorize();
  let next = new URL(`${started.response.url}${started.response.url.includes('?') ? '&' : '?'}person=0`);
  for (let hops = 0; hops < 10; hops += 1) {
    const response = await rp.browser.request(next);
    const location = response.headers.get('location');
    if (!location) throw new Error(`the login stopped at ${response.status} ${next.pathname}`);
    next = new URL(location, next);
    if (next.pathname.startsWith('/auth/')) return next;
  }
  throw new Error('the login did not return to the broker');
}

/** Logins of one person in tabs of one browser, one per registration, whose returns to the broker go at once; each tab's client redeems its code. */
async function loginsReturningAtOnce(browser: TestBrowser, registrations: ReadonlyArray<typeof webClient | typeof renewing>) {
  const tabs = await Promise.all(registrations.map((registration) => RelyingParty.discover(tb.issuer, registration, browser)));
  const returns = await Promise.all(tabs.map((tab) => approvedUpToReturn(tab)));
  const finished = await Promise.all(returns.map((url) => browser.follow(url)));
  for (const { leftTo } of finished) expect(leftTo?.searchParams.get('code')).toEqual(expect.any(String));
  return Promise.all(finished.map(async ({ leftTo }, i) => ({ rp: tabs[i]!, tokens: await tabs[i]!.redeem(leftTo!) })));
}

describe('two logins of one browser session returning at once (two tabs)', () => {
  // Each round is a new race: while the grants were a list inside the session, most rounds lost one.
  const ROUNDS = 3;

  it.each([
    ['the same client', [renewing, renewing]],
    ['two clients', [webClient, renewing]],
  ] as const)('for %s: both get a code, and a confirmed logout ends both', async (_name, registrations) => {
    const browser = new TestBrowser(tb.issuer);
    const first = await RelyingParty.discover(tb.issuer, renewing, browser);
    // A session to start from, as a browser that logged in before has.
    const earlier = await first.redeem((await browser.follow(await approvedUpToReturn(first))).leftTo!);
    const logins = [{ rp: first, tokens: earlier }];
    for (let round = 0; round < ROUNDS; round += 1) logins.push(...(await loginsReturningAtOnce(browser, registrations)));

    await logOut(first, earlier.id_token!, 'GET', 'yes');
    const statuses = await Promise.all(logins.map(({ rp, tokens }) => userinfoStatus(rp, tokens.access_token)));
    expect(statuses).toEqual(logins.map(() => 401));
  });
});

describe('a confirmed logout during which Redis hangs', () => {
  let redis: RedisServer;
  let passage: RedisPassage;
  let hung: TestBroker;

  beforeAll(async () => {
    redis = await startRedisServer();
    passage = await startRedisPassage(redis);
    hung = await startTestBroker({ clients: [renewing], redis: { url: passage.url, key_prefix: 'logout-hang:' } }, 'logout-hang');
  });
  afterAll(async () => {
    redis.resume();
    await hung.close();
    await passage.close();
    await redis.stop();
  });

  /** What revoking a grant first reads: the set of the keys issued under it. */
  const REVOCATION = /smembers\r\n\$\d+\r\n[^\r]*oidc:grant:/i;

  it('keeps the session: the person is told they are still logged in, with the traceId, and confirming again revokes the tokens', async () => {
    const renew = await RelyingParty.discover(hung.issuer, renewing);
    const online = await renew.redeem(await logIn(renew));
    const endpoint = renew.config.serverMetadata().end_session_endpoint!;
    const { response } = await renew.browser.follow(`${endpoint}?${new URLSearchParams({ id_token_hint: online.id_token!, post_logout_redirect_uri: renewing.post_logout_redirect_uris[0]! })}`);
    expect(await response.text()).toContain('name="logout"');

    const paused = passage.pauseAt(REVOCATION);
    const failed = (await renew.browser.submit('/session/end/confirm', { logout: 'yes' })).response;
    await paused;
    expect(failed.status).toBe(503);
    const page = await failed.text();
    expect(page).toContain('you are still logged in');
    expect(page).toContain(failed.headers.get('traceid')!);
    expect(page).toContain('<input type="hidden" name="logout" value="yes">');

    redis.resume();
    await waitFor(() => hung.broker.store.available);
    // As the page says: the logout did not happen.
    expect(await standing(renew, online)).toEqual(WORKING);
    // The page's "Try again" sends the same confirmation.
    await answerLogout(renew, 'yes');
    expect(await standing(renew, online)).toEqual(REVOKED);
  });
});

async function waitFor(condition: () => boolean) {
  for (let i = 0; i < 100 && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(condition()).toBe(true);
}
