import { generateKeyPairSync } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../integration/admin-support.js';
import { apacheAddress, startApacheRelyingParty, type ApacheRelyingParty } from '../support/apache.js';
import { inNewContext, launchChromium } from '../support/chromium.js';
import { writeConfig } from '../support/process.js';
import { cancelAtUpstreamInChromium, confirmLogoutInChromium, interopEids, logInThroughInChromium, startInteropBed, type InteropBed } from '../support/interop.js';

/**
 * mod_auth_openidc (Debian's libapache2-mod-auth-openidc) in Debian's Apache: a page behind
 * the broker's login, the claims in the application's environment, refresh, RP-initiated,
 * back-channel and front-channel logout, JWT client authentication. The person uses chromium:
 * mod_auth_openidc answers anything but a browser's navigation with 401.
 */

let bed: InteropBed;
/** Configured as docs/relying-parties.md recommends: the answer comes back as a form post. */
let apache: ApacheRelyingParty;
/** mod_auth_openidc's defaults: the answer comes back in the query string. */
let apacheWithDefaults: ApacheRelyingParty;
/** Logged out by the broker's logout page, which loads its front-channel logout URI in an iframe. */
let apacheFrontChannel: ApacheRelyingParty;
/** Authenticates with its key (private_key_jwt). */
let apacheWithKey: ApacheRelyingParty;
/** The same, and sends its authorization requests as request objects signed with its key (OIDCRequestObject). */
let apacheRequestObject: ApacheRelyingParty;
/** Authenticates with a JWT signed with its secret (client_secret_jwt). */
let apacheSecretJwt: ApacheRelyingParty;
/** Sends its authorization requests as a form post, from a page of its own that submits itself. */
let apachePosting: ApacheRelyingParty;
/** Holds a refresh token, and tells its session's tokens at <redirect_uri>?info=json (OIDCInfoHook). */
let apacheRefresh: ApacheRelyingParty;
let chromium: Browser;

/** More of a client's registration, from the address its Apache will have. */
type Registration = (address: { redirectUri: string }) => Record<string, unknown>;

async function startApache(clientId: string, extra: string[], registration: Registration = () => ({})): Promise<ApacheRelyingParty> {
  const address = await apacheAddress();
  const client = await createClient(bed.tb.issuer, {
    client_id: clientId,
    redirect_uris: [address.redirectUri],
    post_logout_redirect_uris: [address.loggedOutUrl],
    display_name: 'Apache with mod_auth_openidc',
    // A cancel at the eID reaches mod_auth_openidc as the OIDC error, not the picker again.
    return_to_picker: false,
    ...registration(address),
  });
  return startApacheRelyingParty(address, { issuer: bed.tb.issuer, clientId, clientSecret: client.client_secret, extra });
}

beforeAll(async () => {
  chromium = await launchChromium();
  bed = await startInteropBed('interop-apache');
  // mod_auth_openidc takes logout tokens at its redirect URI with ?logout=backchannel.
  apache = await startApache('apache', ['OIDCResponseMode form_post'], ({ redirectUri }) => ({
    backchannel_logout_uri: `${redirectUri}?logout=backchannel`,
    backchannel_logout_session_required: true,
  }));
  apacheWithDefaults = await startApache('apache-defaults', []);
  // ?logout=get: mod_auth_openidc ends the session of the browser that loads it.
  apacheFrontChannel = await startApache('apache-front-channel', ['OIDCResponseMode form_post'], ({ redirectUri }) => ({
    frontchannel_logout_uri: `${redirectUri}?logout=get`,
    // iss and sid in its query too, which mod_auth_openidc takes along.
    frontchannel_logout_session_required: true,
  }));
  apacheWithKey = await startApache('apache-key', withKey(), keyRegistration);
  apacheRequestObject = await startApache('apache-request-object', [...withKey(), 'OIDCResponseMode form_post', `OIDCRequestObject '${JSON.stringify(SIGNED_REQUEST)}'`], keyRegistration);
  apachePosting = await startApache('apache-posting', ['OIDCProviderTokenEndpointAuth client_secret_jwt', 'OIDCProviderAuthRequestMethod POST'], () => ({
    token_endpoint_auth_method: 'client_secret_jwt',
  }));
  apacheRefresh = await startApache(
    'apache-refresh',
    ['OIDCScope "openid profile personal_number eid offline_access"', 'OIDCInfoHook access_token refresh_token'],
    () => ({ refresh_tokens_without_consent: true }),
  );
  apacheSecretJwt = await startApache('apache-secret-jwt', ['OIDCProviderTokenEndpointAuth client_secret_jwt'], () => ({ token_endpoint_auth_method: 'client_secret_jwt' }));
}, 60_000);

afterAll(() => chromium?.close());

/** The parameters mod_auth_openidc puts in its request object (RFC 9101), signed with its key. */
const SIGNED_REQUEST = {
  copy_from_request: ['response_type', 'response_mode', 'nonce', 'state', 'redirect_uri', 'scope', 'client_id'],
  crypto: { sign_alg: 'RS256' },
  request_object_type: 'request',
};

/** private_key_jwt with an RSA key of its own: OIDCPrivateKeyFiles signs with it, OIDCPublicKeyFiles publishes its public half. */
function withKey(): string[] {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateFile = writeConfig('apache-key.pem', privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  const publicFile = writeConfig('apache-key.pub.pem', publicKey.export({ format: 'pem', type: 'spki' }) as string);
  return [`OIDCPrivateKeyFiles apache-key#${privateFile}`, `OIDCPublicKeyFiles apache-key#${publicFile}`, 'OIDCProviderTokenEndpointAuth private_key_jwt'];
}

/** mod_auth_openidc publishes the public keys of OIDCPublicKeyFiles at its redirect URI with ?jwks=rsa (a bare ?jwks is an error). */
const keyRegistration: Registration = ({ redirectUri }) => ({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${redirectUri}?jwks=rsa` });

/** A fresh browser for `use`, closed afterwards whatever happens. */
const inChromium = (use: (page: Page) => Promise<void>) => inNewContext(chromium, use);

/** At Norwegian BankID, the person cancels; returns what the relying party's page says. */
async function cancelAtUpstream(rp: ApacheRelyingParty, page: Page): Promise<string> {
  await page.goto(`${rp.url}/protected/claims`);
  await cancelAtUpstreamInChromium(bed, page);
  await page.waitForURL(`${rp.redirectUri}**`);
  return (await page.textContent('body')) ?? '';
}

/** What the CGI script found in its environment, by name. */
async function environment(page: Page): Promise<Record<string, string>> {
  const text = (await page.textContent('body')) ?? '';
  return Object.fromEntries(text.trim().split('\n').map((line) => line.split(/=(.*)/s, 2) as [string, string]));
}

describe.each(interopEids)('mod_auth_openidc logging in through $eid', ({ eid, claims }) => {
  it('reaches the protected page with the claims in its environment, then logs out', async () => {
    await inChromium(async (page) => {
      await page.goto(`${apache.url}/protected/claims`);
      await logInThroughInChromium(bed, eid, page);
      await page.waitForURL(`${apache.url}/protected/claims`);
      const env = await environment(page);
      expect(env, apache.errorLog()).toMatchObject({
        OIDC_CLAIM_iss: bed.tb.issuer,
        OIDC_CLAIM_aud: 'apache',
        OIDC_CLAIM_idp: claims.idp,
        OIDC_CLAIM_acr: claims.acr,
        OIDC_CLAIM_personal_number: claims.personal_number,
        OIDC_CLAIM_given_name: claims.given_name,
        OIDC_CLAIM_family_name: claims.family_name,
        OIDC_CLAIM_name: claims.name,
        OIDC_CLAIM_birthdate: claims.birthdate,
        // mod_auth_openidc joins an array's values with commas.
        OIDC_CLAIM_amr: claims.amr.join(','),
      });
      expect(env.REMOTE_USER).toBe(env.OIDC_CLAIM_sub);

      await page.goto(`${apache.redirectUri}?logout=${encodeURIComponent(apache.loggedOutUrl)}`);
      await confirmLogoutInChromium(page);
      await page.waitForURL(apache.loggedOutUrl);
      // Logged out of Apache too: the protected page sends the browser to the broker again.
      await page.goto(`${apache.url}/protected/claims`);
      expect(page.url()).toContain(`${bed.tb.issuer}/interaction/`);
    });
  });
});

/** The person logs in at `rp`'s protected page through Swedish BankID. */
async function logInAt(rp: ApacheRelyingParty, page: Page): Promise<void> {
  await page.goto(`${rp.url}/protected/claims`);
  // Straight there, or through mod_auth_openidc's page that posts the request.
  await page.waitForURL(`${bed.tb.issuer}/interaction/**`);
  await logInThroughInChromium(bed, 'se-bankid', page);
  await page.waitForURL(`${rp.url}/protected/claims`);
}

/** At the broker's own logout page, with no client's id_token_hint, the person confirms. */
async function logOutAtBroker(page: Page): Promise<void> {
  await page.goto(`${bed.tb.issuer}/session/end`);
  await confirmLogoutInChromium(page);
  await page.waitForURL(`${bed.tb.issuer}/session/end/success**`);
}

/** Whether `rp` still has a session for this browser: its protected page shows, rather than the broker's login. */
async function stillLoggedIn(rp: ApacheRelyingParty, page: Page): Promise<boolean> {
  await page.goto(`${rp.url}/protected/claims`);
  return page.url().startsWith(rp.url);
}

describe('mod_auth_openidc logged out by the broker', () => {
  it("back-channel: the broker's logout token ends the Apache session, the browser's cookie notwithstanding", async () => {
    await inChromium(async (page) => {
      await logInAt(apache, page);
      await logOutAtBroker(page);
      await expect.poll(() => stillLoggedIn(apache, page), { message: apache.errorLog() }).toBe(false);
    });
  });

  it("front-channel: the broker's logout page loads mod_auth_openidc's logout URI, which ends the session", async () => {
    await inChromium(async (page) => {
      await logInAt(apacheFrontChannel, page);
      expect(await stillLoggedIn(apacheFrontChannel, page)).toBe(true);
      await logOutAtBroker(page);
      expect(await stillLoggedIn(apacheFrontChannel, page), apacheFrontChannel.errorLog()).toBe(false);
    });
  });
});

describe('mod_auth_openidc authenticating with a JWT', () => {
  it.each([
    ['private_key_jwt', () => apacheWithKey],
    ['client_secret_jwt', () => apacheSecretJwt],
    ['client_secret_jwt, its authorization request posted (OIDCProviderAuthRequestMethod POST)', () => apachePosting],
  ])('%s: logs in', async (_name, rp) => {
    await inChromium(async (page) => {
      await logInAt(rp(), page);
      expect(await environment(page), rp().errorLog()).toMatchObject({ OIDC_CLAIM_iss: bed.tb.issuer, OIDC_CLAIM_idp: 'se-bankid' });
    });
  });
});

describe('mod_auth_openidc refreshing', () => {
  it('at <redirect_uri>?info=json with access_token_refresh_interval, redeems its refresh token for a new access token', async () => {
    await inChromium(async (page) => {
      await logInAt(apacheRefresh, page);
      const info = async (query = '') => {
        await page.goto(`${apacheRefresh.redirectUri}?info=json${query}`);
        return JSON.parse((await page.textContent('body')) ?? '') as { access_token?: string; refresh_token?: string };
      };
      const before = await info();
      expect(before.refresh_token, apacheRefresh.errorLog()).toEqual(expect.any(String));
      const after = await info('&access_token_refresh_interval=0');
      expect(after.access_token, apacheRefresh.errorLog()).not.toBe(before.access_token);
    });
  });
});

describe('mod_auth_openidc with OIDCRequestObject', () => {
  it('is refused with invalid_request_object: its request objects say not when they expire', async () => {
    await inChromium(async (page) => {
      await page.goto(`${apacheRequestObject.url}/protected/claims`);
      const text = (await page.textContent('body')) ?? '';
      expect(text).toContain('OpenID Connect Provider error: invalid_request_object');
      expect(text).toContain('must say when it expires (exp)');
    });
  });
});

describe('mod_auth_openidc when the login fails', () => {
  it('shows the broker\'s error when the answer is a form post', async () => {
    await inChromium(async (page) => {
      const text = await cancelAtUpstream(apache, page);
      expect(text).toContain('OpenID Connect Provider error: access_denied');
      expect(text).toContain('The person cancelled or was refused at the eID.');
    });
  });

  it('with its defaults, takes the error redirect (which carries iss, RFC 9207) for a login started elsewhere', async () => {
    await inChromium(async (page) => {
      const text = await cancelAtUpstream(apacheWithDefaults, page);
      expect(text).toContain('without specifying a "target_link_uri" parameter');
      expect(text).not.toContain('access_denied');
    });
  });
});
