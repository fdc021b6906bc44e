import { beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../integration/admin-support.js';
import { browserFor, confirmLogout, DEBIAN_PYTHON, interopEids, logInThrough, pageResult, startInteropBed, type InteropBed } from '../support/interop.js';
import { startChildServer } from '../support/process.js';
import { findFreePort } from '../support/redis.js';

/**
 * Authlib, from Debian's python3-authlib, as the relying party of docs/examples/python-authlib:
 * code flow with PKCE, the ID token checked against the broker's JWKS, userinfo, refresh,
 * introspection, revocation and RP-initiated logout.
 */

let bed: InteropBed;
let appUrl: string;

beforeAll(async () => {
  bed = await startInteropBed('interop-authlib');
  const port = await findFreePort();
  appUrl = `http://127.0.0.1:${port}`;
  const client = await createClient(bed.tb.issuer, {
    client_id: 'python-authlib',
    redirect_uris: [`${appUrl}/callback`],
    post_logout_redirect_uris: [`${appUrl}/logged-out`],
    display_name: 'Python with Authlib',
  });
  await startChildServer(DEBIAN_PYTHON, ['docs/examples/python-authlib/app.py'], {
    ready: 'Python relying party at',
    env: { ISSUER: bed.tb.issuer, CLIENT_ID: client.client_id, CLIENT_SECRET: client.client_secret!, PORT: String(port) },
  });
}, 60_000);

describe.each(interopEids)('Authlib logging in through $eid', ({ eid, claims }) => {
  it('gets a verified ID token and userinfo, refreshes, introspects, revokes and logs out', async () => {
    const browser = browserFor(bed, appUrl);
    const { response: landing } = await browser.follow(`${appUrl}/login`);
    const { response: home } = await logInThrough(bed, eid, browser, landing);
    expect(home.url).toBe(`${appUrl}/`);
    const loggedIn = pageResult(await home.text()) as { id_token: Record<string, unknown>; userinfo: Record<string, unknown> };
    expect(loggedIn.id_token).toMatchObject({ ...claims, iss: bed.tb.issuer, aud: 'python-authlib' });
    expect(loggedIn.userinfo).toMatchObject({ sub: loggedIn.id_token.sub, personal_number: claims.personal_number });

    const refreshed = await browser.submit(`${appUrl}/refresh`, {});
    expect(pageResult(await refreshed.response.text())).toMatchObject({ new_access_token: true });

    const introspected = await browser.submit(`${appUrl}/introspect`, {});
    expect(pageResult(await introspected.response.text())).toMatchObject({ active: true, client_id: 'python-authlib', sub: loggedIn.id_token.sub });

    const { response: logoutPage } = await browser.submit(`${appUrl}/logout`, {});
    const { response: loggedOut } = await confirmLogout(browser, logoutPage);
    expect(loggedOut.url).toBe(`${appUrl}/logged-out`);
    expect(pageResult(await loggedOut.text())).toEqual({ access_token_active: false });
  });
});
