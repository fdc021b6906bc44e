import { beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../integration/admin-support.js';
import { browserFor, confirmLogout, interopEids, logInThrough, pageResult, startInteropBed, type InteropBed } from '../support/interop.js';
import { startChildServer } from '../support/process.js';
import { findFreePort } from '../support/redis.js';

/** The Express relying party of docs/examples/express-openid-client, as its own process. */

let bed: InteropBed;
let appUrl: string;

beforeAll(async () => {
  bed = await startInteropBed('example-express');
  const port = await findFreePort();
  appUrl = `http://127.0.0.1:${port}`;
  const client = await createClient(bed.tb.issuer, {
    client_id: 'express',
    redirect_uris: [`${appUrl}/callback`],
    post_logout_redirect_uris: [`${appUrl}/`],
    display_name: 'Express with openid-client',
  });
  await startChildServer(process.execPath, ['docs/examples/express-openid-client/app.mjs'], {
    ready: 'Express relying party at',
    env: { ISSUER: bed.tb.issuer, CLIENT_ID: client.client_id, CLIENT_SECRET: client.client_secret!, PORT: String(port) },
  });
}, 60_000);

describe.each(interopEids)('the Express example logging in through $eid', ({ eid, claims }) => {
  it('shows the ID token and userinfo, then logs out', async () => {
    const browser = browserFor(bed, appUrl);
    const { response: landing } = await browser.follow(`${appUrl}/login`);
    const { response: home } = await logInThrough(bed, eid, browser, landing);
    expect(home.url).toBe(`${appUrl}/`);
    const loggedIn = pageResult(await home.text()) as { id_token: Record<string, unknown>; userinfo: Record<string, unknown> };
    expect(loggedIn.id_token).toMatchObject({ ...claims, iss: bed.tb.issuer, aud: 'express' });
    expect(loggedIn.userinfo).toMatchObject({ sub: loggedIn.id_token.sub, personal_number: claims.personal_number });

    const { response: logoutPage } = await browser.follow(`${appUrl}/logout`);
    const { response: loggedOut } = await confirmLogout(browser, logoutPage);
    expect(loggedOut.url).toBe(`${appUrl}/`);
    expect(pageResult(await loggedOut.text())).toEqual({ logged_in: false });
  });
});
