import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../integration/admin-support.js';
import { apacheAddress, startApacheRelyingParty, type ApacheRelyingParty } from '../support/apache.js';
import { launchChromium } from '../support/chromium.js';
import { chooseInChromium, confirmLogoutInChromium, interopEids, logInThroughInChromium, startInteropBed, type InteropBed } from '../support/interop.js';

/**
 * mod_auth_openidc (Debian's libapache2-mod-auth-openidc) in Debian's Apache: a page behind
 * the broker's login, the claims in the application's environment, RP-initiated logout. The
 * person uses chromium: mod_auth_openidc answers anything but a browser's navigation with 401.
 */

let bed: InteropBed;
/** Configured as docs/relying-parties.md recommends: the answer comes back as a form post. */
let apache: ApacheRelyingParty;
/** mod_auth_openidc's defaults: the answer comes back in the query string. */
let apacheWithDefaults: ApacheRelyingParty;
let chromium: Browser;

async function startApache(clientId: string, extra: string[]): Promise<ApacheRelyingParty> {
  const address = await apacheAddress();
  const client = await createClient(bed.tb.issuer, {
    client_id: clientId,
    redirect_uris: [address.redirectUri],
    post_logout_redirect_uris: [address.loggedOutUrl],
    display_name: 'Apache with mod_auth_openidc',
    // A cancel at the eID reaches mod_auth_openidc as the OIDC error, not the picker again.
    return_to_picker: false,
  });
  return startApacheRelyingParty(address, { issuer: bed.tb.issuer, clientId, clientSecret: client.client_secret!, extra });
}

beforeAll(async () => {
  chromium = await launchChromium();
  bed = await startInteropBed('interop-apache');
  apache = await startApache('apache', ['OIDCResponseMode form_post']);
  apacheWithDefaults = await startApache('apache-defaults', []);
}, 60_000);

afterAll(() => chromium?.close());

/** A fresh browser for `use`, closed afterwards whatever happens. */
async function inChromium(use: (page: Page) => Promise<void>): Promise<void> {
  const context = await chromium.newContext();
  try {
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

/** At Norwegian BankID, the person cancels; returns what the relying party's page says. */
async function cancelAtUpstream(rp: ApacheRelyingParty, page: Page): Promise<string> {
  await page.goto(`${rp.url}/protected/claims`);
  await chooseInChromium(bed, 'no-bankid', page);
  await page.locator('form[action$="/cancel"] button').click();
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
