import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { launchChromium, newPhone } from '../support/chromium.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * OpenID Connect Front-Channel Logout 1.0, in a real chromium: after the person confirms the
 * logout, the broker's page loads each client's frontchannel_logout_uri in an iframe (with iss
 * and sid for the client that asked for them) and then goes on to the post_logout_redirect_uri.
 */

let tb: TestBroker;
let receiver: Receiver;
let browser: Browser;

const SECRET = 'a-frontchannel-client-secret-long-enough-0123456789';

beforeAll(async () => {
  browser = await launchChromium();
  receiver = await startReceiver();
  const relyingParty = (id: string, extra: Record<string, unknown>) => ({
    client_id: id,
    client_secret: SECRET,
    redirect_uris: [`${receiver.origin}/${id}/callback`],
    post_logout_redirect_uris: [`${receiver.origin}/${id}/logged-out`],
    frontchannel_logout_uri: `${receiver.origin}/${id}/frontchannel`,
    ...extra,
  });
  tb = await startTestBroker(
    { clients: [relyingParty('with-sid', { frontchannel_logout_session_required: true }), relyingParty('plain', {})] },
    'frontchannel',
  );
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

/** The person logs in to `clientId` in this page, through the test-double eID; the RP redeems the code. */
async function logInWith(page: Page, clientId: string) {
  const rp = await RelyingParty.discover(tb.issuer, { client_id: clientId, client_secret: SECRET, redirect_uris: [`${receiver.origin}/${clientId}/callback`] });
  await page.goto((await rp.authorizationUrl()).href);
  await page.goto(`${page.url()}?person=0`);
  expect(page.url()).toContain(`${receiver.origin}/${clientId}/callback?`);
  return { rp, tokens: await rp.redeem(new URL(page.url())) };
}

describe('front-channel logout', () => {
  it("loads every client's logout page in a frame, then returns to the client", async () => {
    const context = await newPhone(browser);
    try {
      const page = await context.newPage();
      const { rp, tokens } = await logInWith(page, 'with-sid');
      await logInWith(page, 'plain');
      const sid = tokens.claims()!.sid as string;
      expect(sid).toEqual(expect.any(String));

      await page.goto(
        client.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${receiver.origin}/with-sid/logged-out`, state: 'bye' }).href,
      );
      const logoutPage = page.waitForResponse((response) => response.url() === `${tb.issuer}/session/end/confirm`);
      await page.click('button[name="logout"][value="yes"]');
      const answer = await logoutPage;
      expect(answer.status()).toBe(200);
      // Frames of exactly the clients' logout pages, and scripts only from the broker: no inline script runs.
      const csp = answer.headers()['content-security-policy']!;
      expect(csp).toContain(`frame-src ${receiver.origin}/with-sid/frontchannel ${receiver.origin}/plain/frontchannel`);
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');

      // The page's own script goes on to the client once the frames have loaded.
      await page.waitForURL(`${receiver.origin}/with-sid/logged-out?state=bye`);
      const withSid = await receiver.waitFor((r) => r.url.pathname === '/with-sid/frontchannel');
      expect(Object.fromEntries(withSid.url.searchParams)).toEqual({ iss: tb.issuer, sid });
      const plain = await receiver.waitFor((r) => r.url.pathname === '/plain/frontchannel');
      expect(plain.url.search).toBe('');
    } finally {
      await context.close();
    }
  });

  it('is advertised in discovery', async () => {
    const metadata = (await (await fetch(`${tb.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ frontchannel_logout_supported: true, frontchannel_logout_session_supported: true });
  });
});
