import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import { Strategy as OpenIdConnectStrategy, type Profile, type VerifyCallback } from 'passport-openidconnect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../integration/admin-support.js';
import { browserFor, startInteropBed, type InteropBed } from '../support/interop.js';

/**
 * passport-openidconnect 0.1, a relying party from before PKCE: it sends no code_challenge,
 * and the broker refuses it with invalid_request at its redirect_uri — the legacy client is
 * turned away, never let in without PKCE.
 */

let bed: InteropBed;
let appUrl: string;

beforeAll(async () => {
  bed = await startInteropBed('interop-passport');
  const app = express();
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = await createClient(bed.tb.issuer, { client_id: 'passport', redirect_uris: [`${appUrl}/callback`], display_name: 'Express with Passport' });

  const discovery = (await (await fetch(`${bed.tb.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  passport.use(
    'broker',
    new OpenIdConnectStrategy(
      {
        issuer: discovery.issuer!,
        authorizationURL: discovery.authorization_endpoint!,
        tokenURL: discovery.token_endpoint!,
        userInfoURL: discovery.userinfo_endpoint!,
        clientID: client.client_id,
        clientSecret: client.client_secret!,
        callbackURL: `${appUrl}/callback`,
        scope: ['profile'],
      },
      (_issuer: string, profile: Profile, done: VerifyCallback) => done(null, profile),
    ),
  );
  app.use(session({ secret: 'a-session-secret-of-the-passport-test', resave: false, saveUninitialized: true }));
  app.get('/login', passport.authenticate('broker', { session: false }));
  app.get('/callback', (req, res, next) => {
    passport.authenticate('broker', { session: false }, (error: (Error & { code?: string }) | null, user: unknown) => {
      if (error) res.status(400).json({ error: error.code, error_description: error.message });
      else if (user) res.json({ logged_in: true });
      else next();
    })(req, res, next);
  });
}, 60_000);

describe('passport-openidconnect, which sends no PKCE', () => {
  it('is refused with invalid_request at its redirect_uri, and its login never starts', async () => {
    const browser = browserFor(bed, appUrl);
    const started = await browser.request(`${appUrl}/login`);
    const authorization = new URL(started.headers.get('location')!);
    expect(authorization.searchParams.get('code_challenge')).toBeNull();

    const { response } = await browser.follow(`${appUrl}/login`);
    expect(new URL(response.url).pathname).toBe('/callback');
    expect(new URL(response.url).searchParams.get('code')).toBeNull();
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('PKCE') });
  });
});
