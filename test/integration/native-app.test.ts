import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { admin, createClient, startAdminBroker } from './admin-support.js';

/**
 * Mobile and desktop apps (RFC 8252): public clients with PKCE, redirecting to a private-use
 * URI scheme, a claimed https URI or a loopback address on any port, with refresh tokens that
 * rotate and revoke the whole family when a used one comes back.
 */

let tb: TestBroker;
let app: { client_id: string; redirect_uris: string[] };

const APP_REDIRECT = 'com.example.shop:/oauth2redirect';

beforeAll(async () => {
  tb = await startAdminBroker({}, 'native-app');
  const created = await createClient(tb.issuer, {
    application_type: 'native',
    redirect_uris: [APP_REDIRECT, 'https://app.shop.example/oauth2redirect', 'http://127.0.0.1/oauth2redirect'],
    display_name: 'The Shop app',
  });
  expect(created).toMatchObject({ application_type: 'native', token_endpoint_auth_method: 'none' });
  expect(created).not.toHaveProperty('client_secret');
  app = { client_id: created.client_id, redirect_uris: created.redirect_uris as string[] };
});

describe('a registered native app', () => {
  it('logs in with PKCE through its private-use scheme, refreshes, and a reused refresh token revokes the family', async () => {
    const rp = await RelyingParty.discover(tb.issuer, app);
    const callback = await logIn(rp, { scope: 'openid profile offline_access', prompt: 'consent' });
    expect(`${callback.protocol}${callback.pathname}`).toBe(APP_REDIRECT);
    expect(callback.searchParams.get('iss')).toBe(tb.issuer);

    const tokens = await rp.redeem(callback);
    expect(tokens.claims()).toMatchObject({ aud: app.client_id, name: 'Tessa Testsson' });
    const first = tokens.refresh_token!;
    expect(first).toEqual(expect.any(String));

    // The app refreshes: it gets a new access token and a new refresh token, the old one is used up.
    const refreshed = await client.refreshTokenGrant(rp.config, first);
    const second = refreshed.refresh_token!;
    expect(second).not.toBe(first);
    expect(refreshed.claims()?.sub).toBe(tokens.claims()!.sub);
    await expect(rp.userinfo(refreshed.access_token, tokens.claims()!.sub)).resolves.toMatchObject({ name: 'Tessa Testsson' });

    // Someone replays the first refresh token: refused, and every token of that login goes with it.
    const reused = await tokenRequest(tb.issuer, app, { grant_type: 'refresh_token', refresh_token: first });
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');
    const afterReuse = await tokenRequest(tb.issuer, app, { grant_type: 'refresh_token', refresh_token: second });
    expect(afterReuse.body.error).toBe('invalid_grant');
    await expect(rp.userinfo(refreshed.access_token, tokens.claims()!.sub)).rejects.toMatchObject({ status: 401 });
  });

  it('cannot log in without PKCE: the error goes back to the app', async () => {
    const rp = await RelyingParty.discover(tb.issuer, app);
    const url = await rp.authorizationUrl();
    url.searchParams.delete('code_challenge');
    url.searchParams.delete('code_challenge_method');
    const { leftTo } = await rp.browser.follow(url);
    expect(`${leftTo?.protocol}${leftTo?.pathname}`).toBe(APP_REDIRECT);
    expect(leftTo?.searchParams.get('error')).toBe('invalid_request');
    expect(leftTo?.searchParams.get('code')).toBeNull();
  });

  it('a code redeemed with the wrong code_verifier gets invalid_grant', async () => {
    const rp = await RelyingParty.discover(tb.issuer, app);
    const callback = await logIn(rp);
    const answer = await tokenRequest(tb.issuer, app, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: APP_REDIRECT,
      code_verifier: client.randomPKCECodeVerifier(),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_grant');
  });

  it('has no secret to authenticate with: a secret sent anyway is refused', async () => {
    const rp = await RelyingParty.discover(tb.issuer, app);
    const callback = await logIn(rp);
    const answer = await tokenRequest(tb.issuer, { client_id: app.client_id, client_secret: 'a-guessed-secret-that-is-long-enough-000' }, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: APP_REDIRECT,
      code_verifier: rp.flow.verifier,
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
  });

  it('logs in through a claimed https redirect', async () => {
    const rp = await RelyingParty.discover(tb.issuer, { ...app, redirect_uris: ['https://app.shop.example/oauth2redirect'] });
    const tokens = await rp.redeem(await logIn(rp));
    expect(tokens.claims()?.aud).toBe(app.client_id);
  });

  it('logs in through a loopback redirect on whatever port the app listens on', async () => {
    const rp = await RelyingParty.discover(tb.issuer, { ...app, redirect_uris: ['http://127.0.0.1:49152/oauth2redirect'] });
    const callback = await logIn(rp, { redirect_uri: 'http://127.0.0.1:49152/oauth2redirect' });
    expect(callback.origin).toBe('http://127.0.0.1:49152');
    const tokens = await rp.redeem(callback);
    expect(tokens.claims()?.aud).toBe(app.client_id);
  });

  it('a web client gets no such port freedom: its redirect URI is matched exactly', async () => {
    const web = await createClient(tb.issuer, { redirect_uris: ['http://127.0.0.1:8080/callback'] });
    const rp = await RelyingParty.discover(tb.issuer, { ...web, redirect_uris: ['http://127.0.0.1:8081/callback'] });
    const response = await rp.browser.request(await rp.authorizationUrl(), { headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });
});

describe('native app redirect URIs follow RFC 8252', () => {
  it.each([
    ['com.example.app:/callback', 201],
    ['com.example.app://callback', 201],
    ['https://app.example.com/callback', 201],
    ['http://127.0.0.1/callback', 201],
    ['http://127.0.0.1:8765/callback', 201],
    ['http://[::1]/callback', 201],
    ['myapp:/callback', 'a private-use URI scheme must be a reversed domain name'],
    ['javascript:alert(1)', 'a private-use URI scheme must be a reversed domain name'],
    ['http://localhost/callback', 'use 127.0.0.1 or [::1] rather than localhost'],
    ['http://app.example.com/callback', 'http is only for loopback redirects'],
    ['https://127.0.0.1/callback', 'a loopback redirect uses http'],
    ['com.example.app:/callback#x', 'must not contain a fragment'],
  ])('%s → %s', async (uri, expected) => {
    const answer = await admin(tb.issuer, 'POST', '/admin/clients', { application_type: 'native', redirect_uris: [uri] });
    if (expected === 201) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
      return;
    }
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_redirect_uri');
    expect(answer.body.error_description).toMatch(/^redirect_uris\[0\]: /);
    expect(answer.body.error_description).toContain(expected);
  });

  it('a native app cannot have a secret', async () => {
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      const answer = await admin(tb.issuer, 'POST', '/admin/clients', {
        application_type: 'native',
        token_endpoint_auth_method: method,
        redirect_uris: ['com.example.app:/callback'],
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error_description).toMatch(/^token_endpoint_auth_method: a native app cannot keep a secret/);
    }
  });
});
