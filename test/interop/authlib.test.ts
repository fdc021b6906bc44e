import { beforeAll, describe, expect, it } from 'vitest';
import { cancelAtExample, DEBIAN_PYTHON, interopEids, logInAtExample, pageResult, startExample, startInteropBed, type InteropBed } from '../support/interop.js';

/**
 * Authlib, from Debian's python3-authlib, as the relying party of docs/examples/python-authlib:
 * code flow with PKCE, the ID token checked against the broker's JWKS, userinfo, refresh,
 * introspection, revocation and RP-initiated logout.
 */

let bed: InteropBed;
let appUrl: string;

beforeAll(async () => {
  bed = await startInteropBed('interop-authlib');
  appUrl = await startExample(bed, {
    clientId: 'python-authlib',
    command: DEBIAN_PYTHON,
    args: ['docs/examples/python-authlib/app.py'],
    ready: 'Python relying party at',
    postLogoutPath: '/logged-out',
  });
}, 60_000);

describe.each(interopEids)('Authlib logging in through $eid', ({ eid, claims }) => {
  it('gets a verified ID token and userinfo, refreshes, introspects, revokes and logs out', async () => {
    const { browser, shown } = await logInAtExample(bed, eid, appUrl);
    expect(shown.id_token).toMatchObject({ ...claims, iss: bed.tb.issuer, aud: 'python-authlib' });
    expect(shown.userinfo).toMatchObject({ sub: shown.id_token.sub, personal_number: claims.personal_number });

    const refreshed = await browser.submit(`${appUrl}/refresh`, {});
    expect(pageResult(await refreshed.response.text())).toMatchObject({ new_access_token: true });

    const introspected = await browser.submit(`${appUrl}/introspect`, {});
    expect(pageResult(await introspected.response.text())).toMatchObject({ active: true, client_id: 'python-authlib', sub: shown.id_token.sub });

    const { response: logoutPage } = await browser.submit(`${appUrl}/logout`, {});
    const { response: loggedOut } = await browser.confirmLogout(await logoutPage.text());
    expect(loggedOut.url).toBe(`${appUrl}/logged-out`);
    expect(pageResult(await loggedOut.text())).toEqual({ access_token_active: false });
  });
});

describe('Authlib when the person cancels', () => {
  it('shows the broker\'s access_denied', async () => {
    const { status, shown } = await cancelAtExample(bed, appUrl);
    expect(status).toBe(400);
    expect(shown).toMatchObject({ error: 'access_denied' });
  });
});
