import { beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * Two logins of one browser session that finish at the same moment (two tabs, a script):
 * each return to the broker reads the session, adds its client's login and saves it. A
 * confirmed logout must still end both (README, Logout).
 */

const renewing = {
  client_id: 'renewing',
  client_secret: 'a-renewing-client-secret-long-enough-for-the-schema',
  redirect_uris: ['https://renewing.example/callback'],
  post_logout_redirect_uris: ['https://renewing.example/logged-out'],
  refresh_tokens_without_consent: true,
};

let tb: TestBroker;

beforeAll(async () => {
  tb = await startTestBroker({ clients: [webClient, renewing] }, 'session-races');
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

type Registration = typeof webClient | typeof renewing;

async function userinfoStatus(rp: RelyingParty, accessToken: string): Promise<number> {
  return (await fetch(rp.config.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${accessToken}` } })).status;
}

/** The same person logs in in both tabs; the returns to the broker go at once, then each tab's client redeems its code. */
async function loginsReturningAtOnce(browser: TestBrowser, registrations: readonly Registration[]) {
  const tabs = await Promise.all(registrations.map((registration) => RelyingParty.discover(tb.issuer, registration, browser)));
  const returns = await Promise.all(tabs.map((tab) => approvedUpToReturn(tab)));
  const finished = await Promise.all(returns.map((url) => browser.follow(url)));
  for (const { leftTo } of finished) expect(leftTo?.searchParams.get('code')).toEqual(expect.any(String));
  return Promise.all(finished.map(async ({ leftTo }, i) => ({ rp: tabs[i]!, tokens: await tabs[i]!.redeem(leftTo!) })));
}

// Each round is a new race; without turns, most of them lose a login.
const ROUNDS = 3;

describe('two logins of one browser session returning at once', () => {
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

    const endpoint = first.config.serverMetadata().end_session_endpoint!;
    const hint = new URLSearchParams({ id_token_hint: earlier.id_token!, post_logout_redirect_uri: renewing.post_logout_redirect_uris[0]! });
    const { response } = await browser.follow(`${endpoint}?${hint}`);
    await browser.confirmLogout(await response.text());

    const statuses = await Promise.all(logins.map(({ rp, tokens }) => userinfoStatus(rp, tokens.access_token)));
    expect(statuses).toEqual(logins.map(() => 401));
  });
});
