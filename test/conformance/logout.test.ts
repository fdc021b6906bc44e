import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConformanceRp, startConformanceBed, type ConformanceBed } from '../support/conformance.js';

/**
 * RP-Initiated Logout 1.0 and Back-Channel Logout 1.0 as the suite's logout plans check them, with
 * openid-client building the logout requests and the relying party's server receiving the logout
 * tokens. ID tokens live one second here, so that a hint is soon expired, as a real one often is
 * (RP-Initiated Logout §2 asks the OP to take one past its exp; the authorization endpoint takes
 * one too).
 */

let bed: ConformanceBed;
let rp: ConformanceRp;

beforeAll(async () => {
  bed = await startConformanceBed('conformance-logout', { ttl: { id_token: 1 } });
  rp = await ConformanceRp.discover(bed, 'post');
});

const postLogoutRedirectUri = () => `${bed.rpServer.origin}/post/logged-out`;

/** A login, then the logout request `params` asks for, confirmed by the person: where the browser ends, and the logout tokens sent. */
async function logOut(params: (idToken: string) => Record<string, string>) {
  const tokens = await rp.tokens();
  const sent = bed.rpServer.received.length;
  // Exactly these parameters: openid-client's buildEndSessionUrl would add client_id to each.
  const request = `${rp.metadata.end_session_endpoint!}?${new URLSearchParams(params(tokens.id_token!))}`;
  const confirmation = await rp.browser.request(request, { headers: { accept: 'text/html' } });
  expect(confirmation.status).toBe(200);
  const page = await confirmation.text();
  const { leftTo, response } = await rp.browser.confirmLogout(page);
  const logoutTokens = bed.rpServer.received
    .slice(sent)
    .filter((request) => request.url.pathname === '/post/backchannel')
    .map((request) => new URLSearchParams(request.body).get('logout_token')!);
  return { tokens, page, leftTo, response, logoutTokens };
}

describe('RP-initiated logout', () => {
  it('with id_token_hint, post_logout_redirect_uri and state: back with state alone; a back-channel logout token as the specification has it; the tokens revoked', async () => {
    const { tokens, page, leftTo, logoutTokens } = await logOut((idToken) => ({ id_token_hint: idToken, post_logout_redirect_uri: postLogoutRedirectUri(), state: 'bye' }));
    // The person is asked knowing who asks (the hint's client, named as registered: by its id here) and where either answer leads.
    expect(page).toContain('post asks to log you out.');
    expect(page).toContain(`Whichever button you choose, you then go on to ${new URL(postLogoutRedirectUri()).host}.`);
    // A client the operator configured gets no warning about its address.
    expect(page).not.toContain('Anyone can connect');
    expect(leftTo?.href).toBe(`${postLogoutRedirectUri()}?state=bye`);

    expect(logoutTokens).toHaveLength(1);
    const { payload, protectedHeader } = await jwtVerify(logoutTokens[0]!, createRemoteJWKSet(new URL(rp.metadata.jwks_uri!)), {
      issuer: bed.tb.issuer,
      audience: 'post',
      typ: 'logout+jwt',
    });
    // Signed like the client's ID tokens.
    expect(protectedHeader.alg).toBe(JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()).alg);
    expect(Object.keys(payload).sort()).toEqual(['aud', 'events', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub']);
    expect(payload).toMatchObject({ sub: tokens.claims()!.sub, sid: tokens.claims()!.sid, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } });
    expect(Object.keys(payload.events as object)).toHaveLength(1);

    expect(await client.tokenIntrospection(rp.config, tokens.access_token)).toMatchObject({ active: false });
  });

  it('an expired id_token_hint is taken (RP-Initiated Logout §2: the OP should accept one past its exp)', async () => {
    const tokens = await rp.tokens();
    // The ID token lives one second; this one is past its exp.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect(decodeJwt(tokens.id_token!).exp! * 1000).toBeLessThan(Date.now());
    const confirmation = await rp.browser.request(
      client.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: postLogoutRedirectUri(), state: 'late' }),
      { headers: { accept: 'text/html' } },
    );
    const { leftTo } = await rp.browser.confirmLogout(await confirmation.text());
    expect(leftTo?.href).toBe(`${postLogoutRedirectUri()}?state=late`);
  });

  it('an expired id_token_hint at the authorization endpoint is taken too: the login runs, and the person it names gets a code', async () => {
    const tokens = await rp.tokens();
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const again = await rp.redeem(await rp.logIn({ id_token_hint: tokens.id_token! }));
    expect(again.claims()!.sub).toBe(tokens.claims()!.sub);
  });

  it('with client_id instead of id_token_hint: back to the post_logout_redirect_uri with state', async () => {
    const { leftTo, logoutTokens } = await logOut(() => ({ client_id: 'post', post_logout_redirect_uri: postLogoutRedirectUri(), state: 'by-id' }));
    expect(leftTo?.href).toBe(`${postLogoutRedirectUri()}?state=by-id`);
    expect(logoutTokens).toHaveLength(1);
  });

  it("with a state of 4096 characters (ASP.NET Core's encrypted sign-out state with its return URL): back with it unchanged", async () => {
    const longState = randomBytes(3072).toString('base64url');
    expect(longState).toHaveLength(4096);
    const { leftTo } = await logOut((idToken) => ({ id_token_hint: idToken, post_logout_redirect_uri: postLogoutRedirectUri(), state: longState }));
    expect(leftTo?.searchParams.get('state')).toBe(longState);
  });

  it.each([
    ['a post_logout_redirect_uri with nothing to check it against', () => ({ post_logout_redirect_uri: postLogoutRedirectUri(), state: 'lost' })],
    ['id_token_hint alone', (idToken: string) => ({ id_token_hint: idToken })],
    ['no parameters', () => ({})],
  ])('%s: the broker\'s logged-out page, and the session\'s clients told by back-channel logout', async (_case, params) => {
    const { leftTo, response, logoutTokens } = await logOut(params);
    expect(leftTo).toBeUndefined();
    expect(response.status).toBe(200);
    expect(new URL(response.url).pathname).toBe('/session/end/success');
    expect(logoutTokens).toHaveLength(1);
  });

  it("id_token_hint alone: the logged-out page leads back to the client's home page (client_uri), after Yes as after No", async () => {
    const wayBack = '<a class="button" href="https://post.example/home">Back to post</a>';
    const { response } = await logOut((idToken) => ({ id_token_hint: idToken, ui_locales: 'en' }));
    expect(await response.text()).toContain(wayBack);
    // "No, stay logged in": the form's logout field left out.
    const tokens = await rp.tokens();
    const confirmation = await rp.browser.request(`${rp.metadata.end_session_endpoint!}?${new URLSearchParams({ id_token_hint: tokens.id_token!, ui_locales: 'en' })}`, { headers: { accept: 'text/html' } });
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(await confirmation.text())![1]!;
    const stayed = await rp.browser.submit('/session/end/confirm', { xsrf });
    const page = await stayed.response.text();
    expect(page).toContain('You are still logged in');
    expect(page).toContain(wayBack);
  });

  it('a post_logout_redirect_uri not registered, or a client_id other than the hint\'s: an error page, no redirect', async () => {
    const tokens = await rp.tokens();
    const refusals: Array<Record<string, string>> = [
      { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://evil.example/logged-out' },
      { id_token_hint: tokens.id_token!, client_id: 'basic', post_logout_redirect_uri: postLogoutRedirectUri() },
    ];
    for (const params of refusals) {
      const response = await rp.browser.request(client.buildEndSessionUrl(rp.config, params), { headers: { accept: 'text/html' } });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('The service sent a logout request we could not accept.');
    }
  });
});
