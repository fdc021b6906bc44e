import * as client from 'openid-client';
import { TestBrowser } from './browser.js';

/**
 * A relying party as a real one is written: openid-client with discovery, PKCE S256, state
 * and nonce. `authorize` drives the TestBrowser through the broker and returns the URL the
 * broker sent the browser back to.
 */
export class RelyingParty {
  readonly browser: TestBrowser;
  flow = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };

  private constructor(
    readonly config: client.Configuration,
    readonly issuer: string,
    readonly redirectUri: string,
    browser: TestBrowser,
  ) {
    this.browser = browser;
  }

  /** `browser`: one another relying party uses, for the same person's logins to several clients in one browser session. */
  static async discover(
    issuer: string,
    registration: { client_id: string; client_secret?: string; redirect_uris: string[] },
    browser = new TestBrowser(issuer),
  ) {
    const auth = registration.client_secret ? client.ClientSecretBasic(registration.client_secret) : client.None();
    const config = await client.discovery(new URL(issuer), registration.client_id, undefined, auth, {
      execute: [client.allowInsecureRequests],
    });
    return new RelyingParty(config, issuer, registration.redirect_uris[0]!, browser);
  }

  async authorizationUrl(params: Record<string, string> = {}): Promise<URL> {
    return client.buildAuthorizationUrl(this.config, await this.#freshParams(params));
  }

  /** A pushed authorization request (RFC 9126): the parameters go to the broker directly, the URL holds only request_uri. */
  async pushedAuthorizationUrl(params: Record<string, string> = {}): Promise<URL> {
    return client.buildAuthorizationUrlWithPAR(this.config, await this.#freshParams(params));
  }

  async #freshParams(params: Record<string, string>): Promise<Record<string, string>> {
    this.flow = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };
    return {
      redirect_uri: this.redirectUri,
      scope: 'openid profile personal_number eid',
      code_challenge: await client.calculatePKCECodeChallenge(this.flow.verifier),
      code_challenge_method: 'S256',
      state: this.flow.state,
      nonce: this.flow.nonce,
      ...params,
    };
  }

  /** Starts a login and follows it to the first page or to the client's redirect_uri. */
  async authorize(params: Record<string, string> = {}) {
    return this.browser.follow(await this.authorizationUrl(params));
  }

  async redeem(callbackUrl: URL) {
    return client.authorizationCodeGrant(this.config, callbackUrl, {
      pkceCodeVerifier: this.flow.verifier,
      expectedState: this.flow.state,
      expectedNonce: this.flow.nonce,
      idTokenExpected: true,
    });
  }

  async userinfo(accessToken: string, sub: string) {
    return client.fetchUserInfo(this.config, accessToken, sub);
  }
}

/** A completed authorization: follows the test-double eID's decide page with `decision`. */
export async function logIn(rp: RelyingParty, params: Record<string, string> = {}, decision = 'person=0') {
  const started = await rp.authorize(params);
  const decide = started.response.url;
  if (!decide.includes('/decide')) throw new Error(`expected the eID's page, got ${started.response.status} ${decide}`);
  const { leftTo } = await rp.browser.follow(`${decide}${decide.includes('?') ? '&' : '?'}${decision}`);
  if (!leftTo) throw new Error('the login did not return to the client');
  return leftTo;
}

/** The form of a code redemption as the relying party `rp` sends it for `callback`. */
export function codeRedemption(rp: RelyingParty, callback: URL): Record<string, string> {
  return {
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code')!,
    redirect_uri: rp.redirectUri,
    code_verifier: rp.flow.verifier,
  };
}
