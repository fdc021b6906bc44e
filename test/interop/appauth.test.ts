import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  AuthorizationNotifier,
  AuthorizationRequest,
  AuthorizationServiceConfiguration,
  BaseTokenRequestHandler,
  GRANT_TYPE_AUTHORIZATION_CODE,
  GRANT_TYPE_REFRESH_TOKEN,
  RevokeTokenRequest,
  setFlag,
  TokenRequest,
  type AuthorizationError,
  type AuthorizationResponse,
} from '@openid/appauth';
import { NodeBasedHandler, NodeCrypto, NodeRequestor } from '@openid/appauth/built/node_support/index.js';
import { decodeJwt } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../integration/admin-support.js';
import { tokenRequest } from '../support/http.js';
import { browserFor, interopEids, logInThrough, startInteropBed, type InteropBed, type InteropEid } from '../support/interop.js';
import { eventually } from '../support/ops.js';
import { findFreePort } from '../support/redis.js';

/**
 * AppAuth-JS as a native app in Node (RFC 8252): it opens the system browser at the broker and
 * takes the answer on a loopback redirect, on a port it picked just now (§7.3), then redeems the
 * code with PKCE, refreshes and revokes. The system browser it opens is the test's: an
 * `xdg-open` first on the PATH that hands the URL over.
 */

const SCOPE = 'openid profile personal_number eid offline_access';
let bed: InteropBed;
let clientId: string;
/** The same app on a phone or a desktop without loopback: its private-use scheme (RFC 8252 §7.1). */
const PRIVATE_USE_REDIRECT = 'com.example.desktop:/callback';
let schemeClientId: string;
/** An app registered with the port it happened to use once; the port it gets at run time differs. */
const REGISTERED_WITH_PORT = 'http://127.0.0.1:1/callback';
let portClientId: string;
let opened: string;

beforeAll(async () => {
  // AppAuth logs every step, codes and verifiers included, unless told not to.
  setFlag('IS_LOG', false);
  bed = await startInteropBed('interop-appauth');
  const app = await createClient(bed.tb.issuer, {
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1/callback'],
    refresh_tokens_without_consent: true,
    display_name: 'Desktop app with AppAuth',
  });
  clientId = app.client_id;
  const schemeApp = await createClient(bed.tb.issuer, { application_type: 'native', redirect_uris: [PRIVATE_USE_REDIRECT], display_name: 'Desktop app with its own scheme' });
  schemeClientId = schemeApp.client_id;
  const portApp = await createClient(bed.tb.issuer, { application_type: 'native', redirect_uris: [REGISTERED_WITH_PORT], display_name: 'Desktop app with a port' });
  portClientId = portApp.client_id;
  const bin = mkdtempSync(join(tmpdir(), 'neb-xdg-open-'));
  opened = join(bin, 'opened');
  writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$1" >> '${opened}'\n`);
  chmodSync(join(bin, 'xdg-open'), 0o755);
  writeFileSync(opened, '');
  process.env.PATH = `${bin}${delimiter}${process.env.PATH}`;
}, 60_000);

/** The URLs the app opened in the system browser so far. */
const openedUrls = () => readFileSync(opened, 'utf8').split('\n').filter(Boolean);

/** AppAuth builds `request` (state, PKCE) and opens it in the system browser; returns the URL it opened. */
async function openInSystemBrowser(handler: NodeBasedHandler, configuration: AuthorizationServiceConfiguration, request: AuthorizationRequest): Promise<string> {
  const alreadyOpened = openedUrls().length;
  handler.performAuthorizationRequest(configuration, request);
  const authorizationUrl = await eventually(() => openedUrls()[alreadyOpened]);
  expect(new URL(authorizationUrl).searchParams.get('code_challenge_method')).toBe('S256');
  return authorizationUrl;
}

/** The app redeems `code` with the PKCE verifier of `request`, as AppAuth's token handler does. */
function redeem(configuration: AuthorizationServiceConfiguration, request: AuthorizationRequest, code: string) {
  return new BaseTokenRequestHandler(new NodeRequestor()).performTokenRequest(
    configuration,
    new TokenRequest({
      client_id: request.clientId,
      redirect_uri: request.redirectUri,
      grant_type: GRANT_TYPE_AUTHORIZATION_CODE,
      code,
      extras: { code_verifier: request.internal!.code_verifier! },
    }),
  );
}

/**
 * The app `appClientId` logs the person in through `eid` with the answer on a loopback port it
 * picked just now, whatever port its registration names; returns the answer AppAuth took there.
 */
async function logInOnLoopback(appClientId: string, eid: InteropEid) {
  const configuration = await AuthorizationServiceConfiguration.fetchFromIssuer(bed.tb.issuer, new NodeRequestor());
  const port = await findFreePort();
  const redirectUri = `http://127.0.0.1:${port}/callback`;

  const handler = new NodeBasedHandler(port);
  const notifier = new AuthorizationNotifier();
  handler.setAuthorizationNotifier(notifier);
  const answered = new Promise<{ request: AuthorizationRequest; response: AuthorizationResponse | null; error: AuthorizationError | null }>((resolve) =>
    notifier.setAuthorizationListener((request, response, error) => resolve({ request, response, error })),
  );
  const request = new AuthorizationRequest(
    { client_id: appClientId, redirect_uri: redirectUri, scope: SCOPE, response_type: AuthorizationRequest.RESPONSE_TYPE_CODE },
    new NodeCrypto(),
    true,
  );
  const authorizationUrl = await openInSystemBrowser(handler, configuration, request);

  const browser = browserFor(bed, `http://127.0.0.1:${port}`);
  const { response: landing } = await browser.follow(authorizationUrl);
  const { response: closing } = await logInThrough(bed, eid, browser, landing);
  expect(closing.url).toContain(redirectUri);
  await handler.completeAuthorizationRequestIfPossible();
  const { response, error } = await answered;
  expect(error).toBeNull();
  expect(response!.state).toBe(request.state);
  return { configuration, request, code: response!.code, redirectUri };
}

describe.each(interopEids)('AppAuth-JS logging in through $eid', ({ eid, claims }) => {
  it('gets the answer on an ephemeral loopback port, redeems it with PKCE, refreshes and revokes', async () => {
    const requestor = new NodeRequestor();
    const { configuration, request, code, redirectUri } = await logInOnLoopback(clientId, eid);

    const tokens = new BaseTokenRequestHandler(requestor);
    const redeemed = await redeem(configuration, request, code);
    expect(decodeJwt(redeemed.idToken!)).toMatchObject({ ...claims, iss: bed.tb.issuer, aud: clientId });
    expect(redeemed.refreshToken).toEqual(expect.any(String));

    const refreshed = await tokens.performTokenRequest(
      configuration,
      new TokenRequest({ client_id: clientId, redirect_uri: redirectUri, grant_type: GRANT_TYPE_REFRESH_TOKEN, refresh_token: redeemed.refreshToken! }),
    );
    expect(refreshed.refreshToken).toEqual(expect.any(String));
    expect(refreshed.refreshToken).not.toBe(redeemed.refreshToken);

    await tokens.performRevokeTokenRequest(configuration, new RevokeTokenRequest({ client_id: clientId, token: refreshed.refreshToken!, token_type_hint: 'refresh_token' }));
    const afterRevocation = await tokenRequest(bed.tb.issuer, { client_id: clientId }, { grant_type: 'refresh_token', refresh_token: refreshed.refreshToken! });
    expect(afterRevocation.body.error).toBe('invalid_grant');
  });
});

describe('AppAuth-JS registered with a loopback port of its own', () => {
  it('gets the answer on another port all the same (RFC 8252 §7.3)', async () => {
    const { configuration, request, code } = await logInOnLoopback(portClientId, 'se-bankid');
    expect(new URL(request.redirectUri).port).not.toBe(new URL(REGISTERED_WITH_PORT).port);
    const redeemed = await redeem(configuration, request, code);
    expect(decodeJwt(redeemed.idToken!)).toMatchObject({ iss: bed.tb.issuer, aud: portClientId });
  });
});

describe('AppAuth-JS with a private-use URI scheme (RFC 8252 §7.1)', () => {
  it('gets the code at its scheme with state and iss, and redeems it with PKCE', async () => {
    const configuration = await AuthorizationServiceConfiguration.fetchFromIssuer(bed.tb.issuer, new NodeRequestor());
    // The operating system hands the scheme's URL to the app; the handler's loopback server is not used.
    const handler = new NodeBasedHandler(await findFreePort());
    const request = new AuthorizationRequest(
      { client_id: schemeClientId, redirect_uri: PRIVATE_USE_REDIRECT, scope: SCOPE, response_type: AuthorizationRequest.RESPONSE_TYPE_CODE },
      new NodeCrypto(),
      true,
    );
    const authorizationUrl = await openInSystemBrowser(handler, configuration, request);
    const browser = browserFor(bed, 'http://127.0.0.1');
    const { response: landing } = await browser.follow(authorizationUrl);
    const { leftTo } = await logInThrough(bed, 'se-bankid', browser, landing);
    expect(`${leftTo!.protocol}${leftTo!.pathname}`).toBe(PRIVATE_USE_REDIRECT);
    expect(leftTo!.searchParams.get('state')).toBe(request.state);
    expect(leftTo!.searchParams.get('iss')).toBe(bed.tb.issuer);

    const redeemed = await redeem(configuration, request, leftTo!.searchParams.get('code')!);
    expect(decodeJwt(redeemed.idToken!)).toMatchObject({ iss: bed.tb.issuer, aud: schemeClientId });
  });
});
