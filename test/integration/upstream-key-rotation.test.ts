import { describe, expect, it } from 'vitest';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { KEY_REFETCH_INTERVAL_MS } from '../../providers/upstream-oidc/signing-keys.js';
import type { IdTokenForgery, UpstreamSimulator } from '../../providers/upstream-oidc/simulator.js';
import { webClient } from '../support/broker.js';
import { RelyingParty } from '../support/relying-party.js';
import { actAtUpstream, startUpstreamTestBed, type UpstreamEidUnderTest, type UpstreamTestBed } from '../support/upstream.js';

/**
 * An upstream OIDC eID rotating its signing keys, on simulated Norwegian BankID (signed ID tokens
 * and signed userinfo). Each test has a broker and a simulator of its own, so the broker's copy of
 * the upstream's keys and the bound on fetching them again start from nothing.
 */
const norway: UpstreamEidUnderTest = { id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { nnin: true } };
const ACR = 'urn:nordic-eid:no:bankid';

/** A broker and its simulated upstream, after one login: the broker holds the upstream's keys as they were. */
async function afterOneLogin(name: string): Promise<{ bed: UpstreamTestBed; simulator: UpstreamSimulator }> {
  const bed = await startUpstreamTestBed(name, [norway]);
  expect((await logIn(bed)).searchParams.get('code')).toBeTruthy();
  return { bed, simulator: bed.simulators['no-bankid']! };
}

/** A whole login, as far as the client's callback. */
async function logIn(bed: UpstreamTestBed): Promise<URL> {
  const { response } = await bed.rp.authorize({ acr_values: ACR });
  return actAtUpstream(bed.rp, response, { person: 0 });
}

/** A login of a client of its own, stopped where the upstream sends the browser back to the broker: that callback, and the client's browser. */
async function answerAwaitingTheBroker(bed: UpstreamTestBed): Promise<{ rp: RelyingParty; callback: URL }> {
  const rp = await RelyingParty.discover(bed.tb.issuer, webClient);
  const upstream = new URL(bed.simulators['no-bankid']!.issuer).origin;
  rp.browser.alsoFollows.add(upstream);
  const { response: page } = await rp.authorize({ acr_values: ACR });
  const html = await page.text();
  const action = /<form method="post" action="([^"]+\/login)">/.exec(html)![1]!;
  const person = /name="person" value="([^"]+)"/.exec(html)![1]!;
  const answered = await rp.browser.request(new URL(action, upstream), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: upstream },
    body: new URLSearchParams({ person }).toString(),
  });
  const resumed = await rp.browser.request(answered.headers.get('location')!);
  return { rp, callback: new URL(resumed.headers.get('location')!) };
}

/** Where the broker sends the client's browser after the upstream's answer at `callback`. */
async function brokerAnswers({ rp, callback }: { rp: RelyingParty; callback: URL }): Promise<URL | undefined> {
  return (await rp.browser.follow(callback)).leftTo;
}

describe('an upstream that rotates its signing key', () => {
  it.each([
    ['under a new kid', false],
    ['under the same kid, with new key material', true],
  ])('%s: the next login succeeds, with one more fetch of its JWKS', async (_name, sameKid) => {
    const { bed, simulator } = await afterOneLogin(`upstream-rotation-${sameKid ? 'same' : 'new'}-kid`);
    const fetched = simulator.jwksRequests;
    await simulator.rotateSigningKey({ sameKid });

    const callback = await logIn(bed);
    expect(callback.searchParams.get('error')).toBeNull();
    const tokens = await bed.rp.redeem(callback);
    // The signed userinfo (the person's number) was believed too.
    expect(tokens.claims()).toMatchObject({ acr: ACR, personal_number: expect.stringMatching(/^\d{11}$/) });
    expect(simulator.jwksRequests).toBe(fetched + 1);
  });
});

describe('a token signed by a key the upstream never published', () => {
  const forgeries: Array<[string, { idToken?: IdTokenForgery; userinfoSigning?: IdTokenForgery['signing'] }]> = [
    ['an ID token under a kid the upstream never published', { idToken: { signing: 'unpublished-key' } }],
    ['an ID token under the kid of the key the upstream publishes', { idToken: { signing: 'unpublished-key-published-kid' } }],
    ['a userinfo JWT under a kid the upstream never published', { userinfoSigning: 'unpublished-key' }],
    ['a userinfo JWT under the kid of the key the upstream publishes', { userinfoSigning: 'unpublished-key-published-kid' }],
  ];

  it.each(forgeries)('%s → server_error, after one more fetch of its JWKS', async (name, faults) => {
    const { bed, simulator } = await afterOneLogin(`upstream-unpublished-${forgeries.findIndex(([other]) => other === name)}`);
    const fetched = simulator.jwksRequests;
    Object.assign(simulator.faults, faults);

    const callback = await logIn(bed);
    expect(callback.searchParams.get('error')).toBe('server_error');
    expect(callback.searchParams.get('error_description')).toBe('The answer from the eID failed validation.');
    expect(callback.searchParams.get('code')).toBeNull();
    expect(simulator.jwksRequests).toBe(fetched + 1);
  });

  it('many at once, and more right after, make the broker fetch its JWKS once', async () => {
    const { bed, simulator } = await afterOneLogin('upstream-unpublished-many');
    simulator.faults.idToken = { signing: 'unpublished-key' };
    const answers = [];
    for (let i = 0; i < 8; i += 1) answers.push(await answerAwaitingTheBroker(bed));
    const fetched = simulator.jwksRequests;

    const began = Date.now();
    const together = await Promise.all(answers.slice(0, 5).map(brokerAnswers));
    const after = [];
    for (const answer of answers.slice(5)) after.push(await brokerAnswers(answer));
    const intervalsPassed = Math.floor((Date.now() - began) / KEY_REFETCH_INTERVAL_MS);

    for (const leftTo of [...together, ...after]) expect(leftTo?.searchParams.get('error')).toBe('server_error');
    // One fetch, and one more for each whole interval the eight answers took (none, unless the machine crawls).
    expect(simulator.jwksRequests - fetched).toBeGreaterThanOrEqual(1);
    expect(simulator.jwksRequests - fetched).toBeLessThanOrEqual(1 + intervalsPassed);
  });
});
