import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import * as client from 'openid-client';
import { afterAll } from 'vitest';
import { logInWithBankIdOnAnotherDevice } from '../../docs/examples/bankid-custom-frontend.mjs';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection } from '../../providers/se-bankid/test/support.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { TestBrowser } from './browser.js';
import { startTestBroker, type TestBroker } from './broker.js';
import { bankIdPhone } from './interop.js';
import { startReceiver, type Receiver } from './receiver.js';

/**
 * What the OpenID Foundation's conformance suite checks of an OpenID Provider, asked over real
 * HTTP by an independent relying party library (openid-client), with the Swedish BankID simulator
 * doing the logins: a broker with one client for each way of authenticating at the token endpoint,
 * and the relying party's own server (redirect URIs, its JWKS, its back-channel logout endpoint).
 */

/** A client_secret with the characters RFC 6749 §2.3.1 makes a client form-encode in Basic credentials. */
export const SPECIAL_SECRET = 'a secret: with %, +, &, =, / and ? in it, long enough';
const SECRET = 'a-conformance-client-secret-long-enough-for-the-schema';

export type ClientName = 'basic' | 'post' | 'jwt' | 'private-key' | 'public' | 'signed-userinfo' | 'no-refresh';

interface Registration {
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'private_key_jwt' | 'none';
  client_secret?: string;
  userinfo_signed_response_alg?: 'ES256' | 'RS256';
  refresh_tokens?: boolean;
  backchannel_token_delivery_mode?: 'poll';
  client_uri?: string;
}

/** The clients the suite registers, one per token endpoint authentication method and one per registered option. */
export const CLIENTS: Record<ClientName, Registration> = {
  basic: { token_endpoint_auth_method: 'client_secret_basic', client_secret: SPECIAL_SECRET },
  // With a home page, which the logged-out page leads back to.
  post: { token_endpoint_auth_method: 'client_secret_post', client_secret: SECRET, client_uri: 'https://post.example/home' },
  jwt: { token_endpoint_auth_method: 'client_secret_jwt', client_secret: SECRET },
  // With keys of its own, also the client whose CIBA requests can be signed.
  'private-key': { token_endpoint_auth_method: 'private_key_jwt', backchannel_token_delivery_mode: 'poll' },
  public: { token_endpoint_auth_method: 'none' },
  'signed-userinfo': { client_secret: SECRET, userinfo_signed_response_alg: 'RS256' },
  'no-refresh': { client_secret: SECRET, refresh_tokens: false },
};

export interface ConformanceBed {
  tb: TestBroker;
  bankId: BankIdSimulator;
  /** The relying party's server: its redirect URIs, post-logout URIs, JWKS and back-channel logout endpoint. */
  rpServer: Receiver;
  /** The private_key_jwt client's signing key for each algorithm discovery lists (the public halves are at its jwks_uri). */
  rpKeys: Record<AsymmetricAlg, RpKey>;
}

/** The asymmetric algorithms discovery lists for client assertions and request objects. */
export const ASYMMETRIC_ALGS = ['RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'] as const;
export type AsymmetricAlg = (typeof ASYMMETRIC_ALGS)[number];

export interface RpKey {
  key: CryptoKey;
  kid: string;
}

/** The kind of key each algorithm signs with: one RSA key serves RS256 and PS256, one Ed25519 key Ed25519 and EdDSA. */
const KEY_KINDS: Record<AsymmetricAlg, 'rsa' | 'ec' | 'okp'> = { RS256: 'rsa', PS256: 'rsa', ES256: 'ec', Ed25519: 'okp', EdDSA: 'okp' };
const GENERATED_AS: Record<'rsa' | 'ec' | 'okp', string> = { rsa: 'RS256', ec: 'ES256', okp: 'Ed25519' };

/** A relying party's keys: a private key per algorithm, and the public JWKS it publishes (keys without `alg`, one per kind). */
async function relyingPartyKeys(): Promise<{ keys: Record<AsymmetricAlg, RpKey>; jwks: { keys: JWK[] } }> {
  const privateJwks = Object.fromEntries(
    await Promise.all(
      Object.entries(GENERATED_AS).map(async ([kind, alg]) => {
        const { privateKey } = await generateKeyPair(alg, { extractable: true });
        return [kind, { ...(await exportJWK(privateKey)), kid: `rp-${kind}`, use: 'sig' }] as const;
      }),
    ),
  ) as Record<'rsa' | 'ec' | 'okp', JWK>;
  const keys = Object.fromEntries(
    await Promise.all(
      ASYMMETRIC_ALGS.map(async (alg) => {
        const jwk = privateJwks[KEY_KINDS[alg]];
        return [alg, { key: (await importJWK(jwk, alg)) as CryptoKey, kid: jwk.kid! }] as const;
      }),
    ),
  ) as Record<AsymmetricAlg, RpKey>;
  const publicHalf = ({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest }: JWK) => rest;
  return { keys, jwks: { keys: Object.values(privateJwks).map(publicHalf) } };
}

export function redirectUri(bed: ConformanceBed, name: ClientName): string {
  return `${bed.rpServer.origin}/${name}/callback`;
}

export async function startConformanceBed(name: string, more: Partial<ConfigInput> = {}): Promise<ConformanceBed> {
  const pki = await createTestPki();
  const bankId = await startBankIdSimulator({ pki });
  afterAll(() => bankId.close());
  const rpServer = await startReceiver();
  const { keys: rpKeys, jwks } = await relyingPartyKeys();
  rpServer.serve('/jwks', 'application/json', JSON.stringify(jwks));
  const clients = Object.entries(CLIENTS).map(([id, registration]) => ({
    client_id: id,
    redirect_uris: [`${rpServer.origin}/${id}/callback`],
    post_logout_redirect_uris: [`${rpServer.origin}/${id}/logged-out`],
    backchannel_logout_uri: `${rpServer.origin}/${id}/backchannel`,
    backchannel_logout_session_required: true,
    ...(id === 'private-key' ? { jwks_uri: `${rpServer.origin}/jwks` } : {}),
    ...registration,
  }));
  const tb = await startTestBroker({ clients, eids: { 'se-bankid': bankIdSection(bankId, pki) }, ...more }, name);
  return { tb, bankId, rpServer, rpKeys };
}

/** The client authentication openid-client uses for each client, as its registration says. */
function clientAuth(bed: ConformanceBed, name: ClientName): client.ClientAuth {
  const registration = CLIENTS[name];
  const secret = registration.client_secret ?? '';
  const byMethod: Record<string, () => client.ClientAuth> = {
    client_secret_basic: () => client.ClientSecretBasic(secret),
    client_secret_post: () => client.ClientSecretPost(secret),
    client_secret_jwt: () => client.ClientSecretJwt(secret),
    private_key_jwt: () => client.PrivateKeyJwt(bed.rpKeys.ES256),
    none: () => client.None(),
  };
  return byMethod[registration.token_endpoint_auth_method ?? 'client_secret_basic']!();
}

/**
 * A relying party on openid-client for one of the bed's clients, in a browser of its own: builds
 * authorization requests (PKCE S256, state, nonce) and takes the person through BankID.
 */
export class ConformanceRp {
  readonly browser: TestBrowser;
  flow = { verifier: '', state: '', nonce: '' };

  private constructor(
    readonly bed: ConformanceBed,
    readonly name: ClientName,
    readonly config: client.Configuration,
  ) {
    this.browser = new TestBrowser(bed.tb.issuer);
  }

  static async discover(bed: ConformanceBed, name: ClientName): Promise<ConformanceRp> {
    // What openid-client must know of the registration to check the answers: a signed userinfo.
    const registration = CLIENTS[name];
    const metadata = registration.userinfo_signed_response_alg ? { userinfo_signed_response_alg: registration.userinfo_signed_response_alg } : undefined;
    const config = await client.discovery(new URL(bed.tb.issuer), name, metadata, clientAuth(bed, name), { execute: [client.allowInsecureRequests] });
    return new ConformanceRp(bed, name, config);
  }

  get redirectUri(): string {
    return redirectUri(this.bed, this.name);
  }

  get metadata(): client.ServerMetadata {
    return this.config.serverMetadata();
  }

  /** An authorization URL with fresh PKCE, state and nonce; `params` add to or replace them (undefined leaves one out). */
  async authorizationUrl(params: Record<string, string | undefined> = {}): Promise<URL> {
    this.flow = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };
    const all: Record<string, string | undefined> = {
      redirect_uri: this.redirectUri,
      scope: 'openid profile personal_number',
      code_challenge: await client.calculatePKCECodeChallenge(this.flow.verifier),
      code_challenge_method: 'S256',
      state: this.flow.state,
      nonce: this.flow.nonce,
      ...params,
    };
    // A state or nonce the test chose, or left out ('' then: the answer must have none).
    if ('state' in params) this.flow.state = params.state ?? '';
    if ('nonce' in params) this.flow.nonce = params.nonce ?? '';
    const given = Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined);
    return client.buildAuthorizationUrl(this.config, Object.fromEntries(given));
  }

  /** Sends the browser to an authorization URL: the first page of the broker's it stays on, or where it left for. */
  async authorize(params: Record<string, string | undefined> = {}) {
    return this.browser.follow(await this.authorizationUrl(params));
  }

  /**
   * The person logs in with BankID on another device (person `person` of the simulator) from the
   * broker's page `landing`; answers where the broker sent the browser afterwards: the redirect
   * URI with the answer in its query or fragment, or the form-post page.
   */
  async logInFrom(landing: Response, person = 0): Promise<{ leftTo?: URL; response: Response }> {
    const uid = /\/interaction\/([^/?#]+)/.exec(new URL(landing.url).pathname)?.[1];
    if (!uid) throw new Error(`not a login page of the broker's: ${landing.status} ${landing.url}`);
    const final = await logInWithBankIdOnAnotherDevice({
      uid,
      request: (path: string, init: RequestInit) => this.browser.request(path, { ...init, headers: { ...init.headers, origin: this.bed.tb.issuer } }),
      wait: (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 250))),
      onStatus: bankIdPhone(this.bed.bankId, person),
    });
    if (final.status !== 'COMPLETE' || !final.redirectTo) throw new Error(`the BankID login ended with ${JSON.stringify(final)}`);
    return this.browser.follow(final.redirectTo);
  }

  /** A whole login from an authorization request; answers the redirect URI the browser was sent back to. */
  async logIn(params: Record<string, string | undefined> = {}, person = 0): Promise<URL> {
    const { response, leftTo } = await this.authorize(params);
    if (leftTo) throw new Error(`the broker answered at once: ${leftTo.href}`);
    const back = await this.logInFrom(response, person);
    if (!back.leftTo) throw new Error(`the login did not return to the client: ${back.response.status} ${back.response.url}`);
    return back.leftTo;
  }

  /** Redeems the code of `callback` as openid-client does, checking state, nonce, iss and the ID token. */
  async redeem(callback: URL | Request, checks: Partial<client.AuthorizationCodeGrantChecks> = {}) {
    return client.authorizationCodeGrant(this.config, callback, {
      pkceCodeVerifier: this.flow.verifier,
      expectedState: this.flow.state || client.skipStateCheck,
      expectedNonce: this.flow.nonce || undefined,
      idTokenExpected: true,
      ...checks,
    });
  }

  /** A login redeemed: its tokens. */
  async tokens(params: Record<string, string | undefined> = {}, person = 0) {
    return this.redeem(await this.logIn(params, person));
  }
}
