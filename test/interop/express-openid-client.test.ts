import { beforeAll, describe, expect, it } from 'vitest';
import { cancelAtExample, interopEids, logInAtExample, pageResult, startExample, startInteropBed, userinfoClaims, type InteropBed } from '../support/interop.js';

/** The Express relying party of docs/examples/express-openid-client, as its own process. */

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
