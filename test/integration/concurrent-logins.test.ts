import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBalancer, type Balancer } from '../support/balancer.js';
import { startTestBroker } from '../support/broker.js';
import { TestBrowser } from '../support/browser.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { findFreePort, startRedisPassage, startRedisServer, uniquePrefix, type RedisPassage, type RedisServer } from '../support/redis.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { KeyNames } from '../../src/store/key-names.js';

/**
 * Logins that end at the same moment in one browser (two tabs): each comes back to the broker's
 * /auth/<uid> with the cookies the browser held before either answer arrived. Two broker
 * instances behind a round-robin balancer serve them, one each, and reach Redis through a
 * passage that holds the answers on the connection of the first until the second has sent the
 * same read, so that both read before either writes: the race is forced, not hoped for (on one
 * instance, whose commands share one connection, holding the first's answers would hold the
 * second's too). What a browser's session holds is observed as a relying party sees it: a
 * confirmed logout sends a back-channel logout token to each client of the session.
 */

let redis: RedisServer;
let passage: RedisPassage;
let receiver: Receiver;
let balancer: Balancer;

const SECRET = 'a-concurrent-client-secret-long-enough-0123456789';
/** The instances' subject secret: the key of the hashes that name sessions in Redis. */
const SUBJECT_SECRET = 'a-concurrent-subject-secret-long-enough-0123456789';
const keyNames = new KeyNames(SUBJECT_SECRET);
const CLIENTS = ['tab-one', 'tab-two', 'earlier'] as const;
type ClientId = (typeof CLIENTS)[number];

beforeAll(async () => {
  redis = await startRedisServer();
  passage = await startRedisPassage(redis);
  receiver = await startReceiver();
  const ports = [await findFreePort(), await findFreePort()];
  balancer = await startBalancer(ports.map((port) => `http://127.0.0.1:${port}`));
  const prefix = uniquePrefix('concurrent-logins');
  // One after the other: the first generates the keys that both use.
  for (const port of ports) await startInstance(port, prefix);
}, 30_000);

async function startInstance(port: number, prefix: string) {
  await startTestBroker(
    {
      issuer: balancer.url,
      port,
      trust_proxy: 1,
      subject_secret: SUBJECT_SECRET,
      redis: { url: passage.url, key_prefix: prefix },
      clients: CLIENTS.map((id) => ({
        client_id: id,
        client_secret: SECRET,
        redirect_uris: [`${receiver.origin}/${id}/callback`],
        post_logout_redirect_uris: [`${receiver.origin}/${id}/logged-out`],
        backchannel_logout_uri: `${receiver.origin}/${id}/backchannel`,
        backchannel_logout_session_required: true,
      })),
    },
    'concurrent-logins',
    { prefix },
  );
}

afterAll(async () => {
  await balancer?.close();
  await passage?.close();
  await redis?.stop();
});

function relyingParty(id: ClientId, browser: TestBrowser): Promise<RelyingParty> {
  return RelyingParty.discover(balancer.url, { client_id: id, client_secret: SECRET, redirect_uris: [`${receiver.origin}/${id}/callback`] }, browser);
}

/** A login in one tab up to the eID's answer: the address of its return to the broker (/auth/<uid>), not yet followed. */
async function throughTheEid(rp: RelyingParty, person: number): Promise<URL> {
  const decide = (await rp.authorize()).response.url;
  const answered = await rp.browser.request(`${decide}?person=${person}`);
  return new URL(answered.headers.get('location')!, balancer.url);
}

/**
 * Logins in tabs of `browser`, each to a client as a test person, begun together and returning to
 * the broker at once: the browser sends every return before any answer arrives, and the broker's
 * commands that match `barrier` are held until each return has sent one.
 */
async function loginsInTabs(browser: TestBrowser, tabs: Array<{ client: ClientId; person: number }>, barrier: RegExp) {
  const rps = await Promise.all(tabs.map(({ client: id }) => relyingParty(id, browser)));
  const backs = await Promise.all(rps.map((rp, i) => throughTheEid(rp, tabs[i]!.person)));
  const released = passage.holdAnswersUntil(barrier, tabs.length);
  const returned = await Promise.all(rps.map((rp, i) => rp.browser.follow(backs[i]!)));
  await released;
  return Promise.all(returned.map(async ({ leftTo }, i) => ({ rp: rps[i]!, tokens: await rps[i]!.redeem(leftTo!) })));
}

/** Two tabs: one to tab-one, the other to `client`, as test person 0 unless `person` says otherwise. */
function tabOneAnd(client: ClientId, person = 0) {
  return [
    { client: 'tab-one' as const, person: 0 },
    { client, person },
  ];
}

/** What a back-channel logout token for the login that got `tokens` names. */
function namedIn(tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers) {
  return { sid: tokens.claims()!.sid, sub: tokens.claims()!.sub };
}

/** The session cookie's value in `browser`. */
function sessionCookie(browser: TestBrowser): string {
  const value = /(?:^|; )_session=([^;]+)/.exec(browser.cookieHeader(new URL(`${balancer.url}/auth`)))?.[1];
  if (!value) throw new Error('the browser holds no broker session');
  return value;
}

/** The person logs out at `rp` and confirms; resolves with the clients that got a back-channel logout token, and the sids in them. */
async function logOutAt(rp: RelyingParty, idToken: string): Promise<Record<string, unknown>> {
  const before = receiver.received.length;
  const confirmation = await rp.browser.request(
    client.buildEndSessionUrl(rp.config, { id_token_hint: idToken, post_logout_redirect_uri: `${receiver.origin}/${rp.config.clientMetadata().client_id}/logged-out` }),
  );
  const done = await rp.browser.confirmLogout(await confirmation.text());
  expect(done.leftTo?.pathname).toMatch(/\/logged-out$/);
  // The broker sends the person on only once every delivery has its answer.
  const tokens = receiver.received.slice(before).filter((r) => r.method === 'POST' && r.url.pathname.endsWith('/backchannel'));
  return Object.fromEntries(
    tokens.map((r) => {
      const payload = JSON.parse(Buffer.from(new URLSearchParams(r.body).get('logout_token')!.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      return [r.url.pathname.split('/')[1]!, { sid: payload.sid, sub: payload.sub }];
    }),
  );
}

const interactionRead = /hgetall\r\n\$\d+\r\n[^\r]*oidc:Interaction:/i;
/** The read of the session whose cookie's value is `id`: its key names the hash of it. */
const sessionRead = (id: string) => new RegExp(`hgetall\\r\\n\\$\\d+\\r\\n[^\\r]*oidc:Session:${keyNames.of(id)}\\r\\n`, 'i');

describe('logins in two tabs of one browser that finish at once', () => {
  it('without a session yet: one session holds both clients, and its logout reaches both', async () => {
    // Both tabs open before either login is done, so neither carries a session.
    const [one, two] = await loginsInTabs(new TestBrowser(balancer.url), tabOneAnd('tab-two'), interactionRead);
    expect(await logOutAt(one!.rp, one!.tokens.id_token!)).toEqual({ 'tab-one': namedIn(one!.tokens), 'tab-two': namedIn(two!.tokens) });
  });

  it('with a session already: both clients join it, beside the earlier one, and its logout reaches all three', async () => {
    const browser = new TestBrowser(balancer.url);
    const earlier = await relyingParty('earlier', browser);
    const earlierTokens = await earlier.redeem(await logIn(earlier));
    const [one, two] = await loginsInTabs(browser, tabOneAnd('tab-two'), sessionRead(sessionCookie(browser)));
    expect(await logOutAt(two!.rp, two!.tokens.id_token!)).toEqual({
      earlier: namedIn(earlierTokens),
      'tab-one': namedIn(one!.tokens),
      'tab-two': namedIn(two!.tokens),
    });
  });

  it('to the same client in both tabs: one session, whose logout ends both logins', async () => {
    const logins = await loginsInTabs(new TestBrowser(balancer.url), tabOneAnd('tab-one'), interactionRead);
    expect(Object.keys(await logOutAt(logins[0]!.rp, logins[0]!.tokens.id_token!))).toEqual(['tab-one']);
    for (const { rp, tokens } of logins) await expect(rp.userinfo(tokens.access_token, tokens.claims()!.sub)).rejects.toThrow();
  });

  it('two different people: they do not share a session; the logout reaches only the one the browser holds', async () => {
    const [one, two] = await loginsInTabs(new TestBrowser(balancer.url), tabOneAnd('tab-two', 1), interactionRead);
    expect(one!.tokens.claims()!.sub).not.toBe(two!.tokens.claims()!.sub);
    // Whoever's session the browser kept, its logout names that person and that person's client only.
    const reached = Object.values(await logOutAt(one!.rp, one!.tokens.id_token!));
    expect(reached).toHaveLength(1);
    expect([namedIn(one!.tokens), namedIn(two!.tokens)]).toContainEqual(reached[0]);
  });
});

describe('a later login of another person in the same browser', () => {
  it("takes the session without the earlier person's clients: its logout reaches only the later person's", async () => {
    const browser = new TestBrowser(balancer.url);
    const earlier = await relyingParty('earlier', browser);
    await earlier.redeem(await logIn(earlier));
    const later = await relyingParty('tab-one', browser);
    const laterTokens = await later.redeem(await logIn(later, {}, 'person=1'));
    expect(await logOutAt(later, laterTokens.id_token!)).toEqual({ 'tab-one': namedIn(laterTokens) });
  });

  it('begun in another tab before the earlier person logged in: the same, with no logout of the earlier person on the way', async () => {
    const browser = new TestBrowser(balancer.url);
    const earlier = await relyingParty('earlier', browser);
    const later = await relyingParty('tab-one', browser);
    // The later login's tab opens first, when the browser has no session yet.
    const laterAtEid = (await later.authorize()).response.url;
    const earlierTokens = await earlier.redeem(await logIn(earlier));
    const before = receiver.received.length;
    const { leftTo } = await browser.follow(`${laterAtEid}?person=1`);
    expect(leftTo?.searchParams.get('code')).toBeTruthy();
    const laterTokens = await later.redeem(leftTo!);
    expect(receiver.received.slice(before).filter((r) => r.url.pathname.endsWith('/backchannel'))).toEqual([]);
    // The earlier person's tokens end with a logout of the session, not with the change of hands.
    await expect(earlier.userinfo(earlierTokens.access_token, earlierTokens.claims()!.sub)).resolves.toMatchObject({ sub: earlierTokens.claims()!.sub });
    expect(await logOutAt(later, laterTokens.id_token!)).toEqual({ 'tab-one': namedIn(laterTokens) });
  });
});
