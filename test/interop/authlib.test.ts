import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { browserFor, cancelAtExample, DEBIAN_PYTHON, interopEids, logInAtExample, pageResult, startExample, startInteropBed, userinfoClaims, type InteropBed } from '../support/interop.js';
import { startReceiver } from '../support/receiver.js';
import { writeConfig } from '../support/process.js';

/**
 * Authlib, from Debian's python3-authlib, as the relying party of docs/examples/python-authlib:
 * code flow with PKCE, the ID token checked against the broker's JWKS, userinfo, refresh,
 * introspection, revocation and RP-initiated logout; with its secret, client_secret_jwt or
 * private_key_jwt, and its authorization request pushed (PAR).
 */

let bed: InteropBed;
let appUrl: string;
let keyAppUrl: string;
let secretJwtAppUrl: string;

beforeAll(async () => {
  bed = await startInteropBed('interop-authlib');
  appUrl = await startExample(bed, {
    clientId: 'python-authlib',
    command: DEBIAN_PYTHON,
    args: ['docs/examples/python-authlib/app.py'],
    ready: 'Python relying party at',
    postLogoutPath: '/logged-out',
  });
  keyAppUrl = await startExample(bed, {
    clientId: 'python-authlib-key',
    command: DEBIAN_PYTHON,
    args: ['docs/examples/python-authlib/app.py'],
    ready: 'Python relying party at',
    postLogoutPath: '/logged-out',
    authentication: await privateKeyJwt(),
  });
  secretJwtAppUrl = await startExample(bed, {
    clientId: 'python-authlib-secret-jwt',
    command: DEBIAN_PYTHON,
    args: ['docs/examples/python-authlib/app.py'],
    ready: 'Python relying party at',
    postLogoutPath: '/logged-out',
    authentication: { registration: { token_endpoint_auth_method: 'client_secret_jwt' }, env: { AUTH_METHOD: 'client_secret_jwt' } },
  });
}, 60_000);

/** A client that authenticates with private_key_jwt: its key in a PEM file for the app, the public half at its jwks_uri. */
async function privateKeyJwt() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rpServer = await startReceiver();
  rpServer.serve('/jwks', 'application/json', JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'authlib-key', use: 'sig' }] }));
  const keyFile = writeConfig('authlib-key.pem', privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  return {
    registration: { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${rpServer.origin}/jwks` },
    env: { PRIVATE_KEY_FILE: keyFile },
  };
}

describe.each(interopEids)('Authlib logging in through $eid', ({ eid, claims }) => {
  it('gets a verified ID token and userinfo, refreshes, introspects, revokes and logs out', async () => {
    const { browser, shown } = await logInAtExample(bed, eid, appUrl);
    expect(shown.id_token).toMatchObject({ ...claims, iss: bed.tb.issuer, aud: 'python-authlib' });
    expect(shown.userinfo).toMatchObject({ ...userinfoClaims(claims), sub: shown.id_token.sub });

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

describe.each([
  { method: 'private_key_jwt', app: () => keyAppUrl, clientId: 'python-authlib-key' },
  { method: 'client_secret_jwt', app: () => secretJwtAppUrl, clientId: 'python-authlib-secret-jwt' },
])('Authlib with $method', ({ app, clientId }) => {
  it('redeems the code, refreshes, introspects and revokes with signed assertions', async () => {
    const { browser, shown } = await logInAtExample(bed, 'se-bankid', app());
    expect(shown.id_token).toMatchObject({ iss: bed.tb.issuer, aud: clientId });

    const refreshed = await browser.submit(`${app()}/refresh`, {});
    expect(pageResult(await refreshed.response.text())).toMatchObject({ new_access_token: true });
    const introspected = await browser.submit(`${app()}/introspect`, {});
    expect(pageResult(await introspected.response.text())).toMatchObject({ active: true, client_id: clientId });

    const { response: logoutPage } = await browser.submit(`${app()}/logout`, {});
    const { response: loggedOut } = await browser.confirmLogout(await logoutPage.text());
    expect(pageResult(await loggedOut.text())).toEqual({ access_token_active: false });
  });
});

describe('Authlib pushing its authorization request (PAR, RFC 9126)', () => {
  it.each([
    { method: 'client_secret_basic', app: () => appUrl, clientId: 'python-authlib' },
    { method: 'private_key_jwt', app: () => keyAppUrl, clientId: 'python-authlib-key' },
    { method: 'client_secret_jwt', app: () => secretJwtAppUrl, clientId: 'python-authlib-secret-jwt' },
  ])('authenticated with $method: the browser carries only the request_uri, and the login completes', async ({ app, clientId }) => {
    const started = await browserFor(bed, app()).request(`${app()}/login?par=1`);
    const authorization = new URL(started.headers.get('location')!);
    expect([...authorization.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);

    const { shown } = await logInAtExample(bed, 'se-bankid', app(), '/login?par=1');
    expect(shown.id_token).toMatchObject({ iss: bed.tb.issuer, aud: clientId, idp: 'se-bankid' });
  });
});

describe('Authlib when the person cancels', () => {
  it('shows the broker\'s access_denied', async () => {
    const { status, shown } = await cancelAtExample(bed, appUrl);
    expect(status).toBe(400);
    expect(shown).toMatchObject({ error: 'access_denied' });
  });
});
