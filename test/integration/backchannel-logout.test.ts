import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { capturingLog } from '../support/ops.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

/**
 * OpenID Connect Back-Channel Logout 1.0: when the person confirms an RP-initiated logout, every
 * client of the ended session that registered a backchannel_logout_uri gets a logout token,
 * POSTed to that URI. The clients here are real HTTP servers that check the token's signature
 * against the broker's JWKS, as a relying party must (§2.6).
 */

let tb: TestBroker;
let receiver: Receiver;

const SECRET = 'a-backchannel-client-secret-long-enough-0123456789';
const { log, lines: logLines } = capturingLog();

beforeAll(async () => {
  receiver = await startReceiver();
  const client = (id: string, extra: Record<string, unknown>) => ({
    client_id: id,
    client_secret: SECRET,
    redirect_uris: [`${receiver.origin}/${id}/callback`],
    post_logout_redirect_uris: [`${receiver.origin}/${id}/logged-out`],
    ...extra,
  });
  tb = await startTestBroker(
    {
      clients: [
        client('with-sid', { backchannel_logout_uri: `${receiver.origin}/with-sid/backchannel`, backchannel_logout_session_required: true }),
        client('sub-only', { backchannel_logout_uri: `${receiver.origin}/sub-only/backchannel` }),
      ],
    },
    'backchannel',
    { log },
  );
});

/** A relying party's check of a logout token (Back-Channel Logout §2.6), against the broker's published keys. */
async function verifyLogoutToken(body: string, clientId: string) {
  const logoutToken = new URLSearchParams(body).get('logout_token')!;
  const { payload, protectedHeader } = await jwtVerify(logoutToken, createRemoteJWKSet(new URL(`${tb.issuer}/jwks`)), {
    issuer: tb.issuer,
    audience: clientId,
    typ: 'logout+jwt',
  });
  expect(payload.events).toEqual({ 'http://schemas.openid.net/event/backchannel-logout': {} });
  expect(payload).not.toHaveProperty('nonce');
  expect(payload.jti).toEqual(expect.any(String));
  return { payload, protectedHeader };
}

describe('back-channel logout', () => {
  it('sends each client of the ended session a signed logout token', async () => {
    const withSid = await RelyingParty.discover(tb.issuer, { client_id: 'with-sid', client_secret: SECRET, redirect_uris: [`${receiver.origin}/with-sid/callback`] });
    const subOnly = await RelyingParty.discover(tb.issuer, { client_id: 'sub-only', client_secret: SECRET, redirect_uris: [`${receiver.origin}/sub-only/callback`] });
    // The same person logs in to both clients in one browser: one broker session, two clients.
    const browser = withSid.browser;
    const withSidTokens = await withSid.redeem(await logIn(withSid));
    const subOnlyFlow = await subOnly.authorizationUrl();
    const started = await browser.follow(subOnlyFlow);
    const { leftTo } = await browser.follow(`${started.response.url}?person=0`);
    const subOnlyTokens = await client.authorizationCodeGrant(subOnly.config, leftTo!, {
      pkceCodeVerifier: subOnly.flow.verifier,
      expectedState: subOnly.flow.state,
      expectedNonce: subOnly.flow.nonce,
    });
    const sid = withSidTokens.claims()!.sid;
    expect(sid).toEqual(expect.any(String));

    const confirmation = await browser.request(
      client.buildEndSessionUrl(withSid.config, { id_token_hint: withSidTokens.id_token!, post_logout_redirect_uri: `${receiver.origin}/with-sid/logged-out` }),
    );
    const done = await browser.confirmLogout(await confirmation.text());
    expect(done.leftTo?.href).toBe(`${receiver.origin}/with-sid/logged-out`);

    const toWithSid = await receiver.waitFor((r) => r.method === 'POST' && r.url.pathname === '/with-sid/backchannel');
    expect(toWithSid.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const first = await verifyLogoutToken(toWithSid.body, 'with-sid');
    expect(first.payload).toMatchObject({ sub: withSidTokens.claims()!.sub, sid });

    const toSubOnly = await receiver.waitFor((r) => r.method === 'POST' && r.url.pathname === '/sub-only/backchannel');
    const second = await verifyLogoutToken(toSubOnly.body, 'sub-only');
    expect(second.payload.sub).toBe(subOnlyTokens.claims()!.sub);
    expect(second.payload).not.toHaveProperty('sid');
  });

  it('a logout token changed on the way fails the signature check', async () => {
    const delivered = await receiver.waitFor((r) => r.url.pathname === '/with-sid/backchannel');
    const token = new URLSearchParams(delivered.body).get('logout_token')!;
    const [header, , signature] = token.split('.');
    const changedClaims = Buffer.from(JSON.stringify({ ...decodeJwt(token), sub: 'someone-else' })).toString('base64url');
    await expect(verifyLogoutToken(`logout_token=${header}.${changedClaims}.${signature}`, 'with-sid')).rejects.toThrow(/signature/);
  });

  it('a client that answers 204 No Content has its token delivered (Back-Channel Logout 1.0 §2.8)', async () => {
    const subOnly = await RelyingParty.discover(tb.issuer, { client_id: 'sub-only', client_secret: SECRET, redirect_uris: [`${receiver.origin}/sub-only/callback`] });
    const tokens = await subOnly.redeem(await logIn(subOnly));
    const confirmation = await subOnly.browser.request(
      client.buildEndSessionUrl(subOnly.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${receiver.origin}/sub-only/logged-out` }),
    );
    const deliveries = receiver.received.length;
    receiver.answerWith(204);
    // The broker waits for every delivery before it sends the person on: their outcome is logged by then.
    const done = await subOnly.browser.confirmLogout(await confirmation.text());
    expect(done.leftTo?.href).toBe(`${receiver.origin}/sub-only/logged-out`);
    expect(receiver.received.slice(deliveries).map((r) => `${r.method} ${r.url.pathname}`)).toEqual(['POST /sub-only/backchannel']);
    expect(logLines().filter((line) => line.msg === 'back-channel logout token not delivered')).toEqual([]);
  });

  it('is advertised in discovery', async () => {
    const metadata = (await (await fetch(`${tb.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ backchannel_logout_supported: true, backchannel_logout_session_supported: true });
  });
});
