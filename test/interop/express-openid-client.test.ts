import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { attemptSilentLogin, auth } from 'express-openid-connect';
import session from 'express-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../integration/admin-support.js';
import { browserFor, cancelAtExample, interopEids, logInAtExample, logInThrough, pageResult, startExample, startInteropBed, userinfoClaims, type InteropBed } from '../support/interop.js';

/** The Express relying party of docs/examples/express-openid-client, as its own process; and express-openid-connect. */

let bed: InteropBed;
let appUrl: string;

beforeAll(async () => {
  bed = await startInteropBed('example-express');
  appUrl = await startExample(bed, {
    clientId: 'express',
    command: process.execPath,
    args: ['docs/examples/express-openid-client/app.mjs'],
    ready: 'Express relying party at',
    postLogoutPath: '/',
  });
}, 60_000);

describe.each(interopEids)('the Express example logging in through $eid', ({ eid, claims }) => {
  it('shows the ID token and userinfo, then logs out', async () => {
    const { browser, shown } = await logInAtExample(bed, eid, appUrl);
    expect(shown.id_token).toMatchObject({ ...claims, iss: bed.tb.issuer, aud: 'express' });
    expect(shown.userinfo).toMatchObject({ ...userinfoClaims(claims), sub: shown.id_token.sub });

    const { response: logoutPage } = await browser.follow(`${appUrl}/logout`);
    const { response: loggedOut } = await browser.confirmLogout(await logoutPage.text());
    expect(loggedOut.url).toBe(`${appUrl}/`);
    expect(pageResult(await loggedOut.text())).toEqual({ logged_in: false });
  });
});

describe('the Express example when the person cancels', () => {
  it('shows the broker\'s access_denied', async () => {
    const { status, shown } = await cancelAtExample(bed, appUrl);
    expect(status).toBe(400);
    expect(shown).toMatchObject({ error: 'access_denied' });
  });
});

type LogoutTokenStore = Extract<NonNullable<Parameters<typeof auth>[0]>['backchannelLogout'], object>['store'];

/**
 * express-openid-connect (Auth0's Express middleware), configured as an integrator would: the
 * code flow, its Express session, back-channel logout with an express-session store.
 */
describe('express-openid-connect', () => {
  let rpUrl: string;

  beforeAll(async () => {
    const app = express();
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    afterAll(() => new Promise((resolve) => server.close(resolve)));
    rpUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = await createClient(bed.tb.issuer, {
      client_id: 'express-openid-connect',
      redirect_uris: [`${rpUrl}/callback`],
      post_logout_redirect_uris: [rpUrl],
      backchannel_logout_uri: `${rpUrl}/backchannel-logout`,
      display_name: 'Express with express-openid-connect',
      return_to_picker: false,
    });
    app.use(
      auth({
        issuerBaseURL: bed.tb.issuer,
        baseURL: rpUrl,
        clientID: client.client_id,
        clientSecret: client.client_secret!,
        secret: 'a-session-secret-of-the-express-openid-connect-test',
        authRequired: false,
        // Its default is RS256; the broker signs in ES256 unless the client is registered otherwise.
        idTokenSigningAlg: 'ES256',
        idpLogout: true,
        // An express-session store keeps the logout tokens the broker posts, as its documentation says; its typings declare a store of their own.
        backchannelLogout: { store: new session.MemoryStore() as unknown as LogoutTokenStore },
        authorizationParams: { response_type: 'code', scope: 'openid profile personal_number eid' },
      }),
    );
    const home: express.RequestHandler = async (req, res) => {
      if (!req.oidc.isAuthenticated()) return void res.json({ logged_in: false });
      res.json({ id_token: req.oidc.idTokenClaims, userinfo: await req.oidc.fetchUserInfo() });
    };
    app.get('/', home);
    app.get('/silent', attemptSilentLogin(), home);
  });

  /** The person logs in at the app; returns their browser and what the app shows. */
  async function logInAtApp() {
    const browser = browserFor(bed, rpUrl);
    const started = await browser.request(`${rpUrl}/login`);
    expect(new URL(started.headers.get('location')!).searchParams.get('code_challenge_method')).toBe('S256');
    const { response: landing } = await browser.follow(`${rpUrl}/login`);
    const { response: home } = await logInThrough(bed, 'se-bankid', browser, landing);
    return { browser, shown: (await home.json()) as { id_token: Record<string, unknown>; userinfo: Record<string, unknown> } };
  }

  it('logs in with PKCE, reads userinfo, is logged out by back-channel logout', async () => {
    const { browser, shown } = await logInAtApp();
    const { claims } = interopEids[0];
    expect(shown.id_token).toMatchObject({ ...claims, iss: bed.tb.issuer, aud: 'express-openid-connect' });
    expect(shown.userinfo).toMatchObject({ ...userinfoClaims(claims), sub: shown.id_token.sub });

    const loggedIn = async () => !('logged_in' in ((await (await browser.request(rpUrl)).json()) as object));
    expect(await loggedIn()).toBe(true);
    // The person logs out at the broker's own page: the broker posts a logout token to the app.
    const { response: logoutPage } = await browser.follow('/session/end');
    await browser.confirmLogout(await logoutPage.text());
    await expect.poll(loggedIn).toBe(false);
  });

  it("attemptSilentLogin: the broker's login_required (prompt=none) brings the person back to the page, not logged in", async () => {
    const browser = browserFor(bed, rpUrl);
    const started = await browser.request(`${rpUrl}/silent`);
    expect(new URL(started.headers.get('location')!).searchParams.get('prompt')).toBe('none');
    const { response } = await browser.follow(`${rpUrl}/silent`);
    expect(response.url).toBe(`${rpUrl}/silent`);
    expect(await response.json()).toEqual({ logged_in: false });
  });

  it("idpLogout: /logout asks at the broker's logout page and comes back to baseURL", async () => {
    const { browser } = await logInAtApp();
    const { response: logoutPage } = await browser.follow(`${rpUrl}/logout`);
    const { response: back } = await browser.confirmLogout(await logoutPage.text());
    expect(back.url).toBe(rpUrl + '/');
    expect(await back.json()).toEqual({ logged_in: false });
  });
});
