import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { compactDecrypt, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import type { EidTelemetry, Logger } from '../../src/eids/sdk.js';
import type { UpstreamKeys } from './keys.js';
import { UpstreamSigningKeys } from './signing-keys.js';

export interface UpstreamClientOptions {
  /** The upstream's issuer identifier; its discovery document is read from it. */
  issuer: string;
  clientId: string;
  clientSecret?: string;
  tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  keys: UpstreamKeys;
  /** JAR: none; signed (client_id and request); or request only, for upstreams that take nothing else. */
  requestObject: 'none' | 'signed' | 'request-only';
  /** The one ID token signing algorithm accepted; `none` never is. */
  idTokenSigningAlg: string;
  /** ID tokens and userinfo arrive signed, then encrypted to the broker's encryption key. */
  encryptedResponses: boolean;
  /** Fetch userinfo (plain JSON, or a signed JWT), or not at all. */
  userinfo: 'none' | 'json' | 'jwt';
  timeoutMs: number;
  /** Plain-HTTP upstreams: simulators and tests on this machine only. */
  allowHttp: boolean;
  log: Logger;
  /**
   * Response headers of every call to the upstream kept in a log line with the call's path and
   * status: the upstream's own id of the call, which its support asks for (Bank iD's traceId).
   */
  logHeaders?: readonly string[];
  /** Metrics and the circuit breaker, which every call to the upstream then goes through. */
  telemetry?: EidTelemetry;
}

/** A response status carried by openid-client's errors (an HTTP error answer), if any. */
function statusOf(error: unknown): number | undefined {
  const { status, cause } = error as { status?: unknown; cause?: { status?: unknown } };
  if (typeof status === 'number') return status;
  return typeof cause?.status === 'number' ? cause.status : undefined;
}

/**
 * How a failed call to an upstream counts. The upstream is failing when it cannot be reached,
 * does not answer in time, or answers 5xx or 429: those open its circuit. An answer it gave on
 * purpose (an OAuth error, a 4xx) or a response that fails validation does not.
 */
export function classifyUpstreamError(error: unknown): { reason: string; upstreamFailure: boolean } {
  const code = (error as { code?: unknown }).code;
  if (code === 'OAUTH_TIMEOUT' || (error as Error).name === 'TimeoutError') return { reason: 'timeout', upstreamFailure: true };
  const status = statusOf(error);
  if (status !== undefined) return { reason: `http_${status}`, upstreamFailure: status >= 500 || status === 429 };
  if (typeof code === 'string' && (code.startsWith('OAUTH_') || code.startsWith('ERR_J'))) return { reason: 'invalid_response', upstreamFailure: false };
  if (error instanceof UpstreamError) return { reason: 'error_response', upstreamFailure: false };
  return { reason: 'unreachable', upstreamFailure: true };
}

/** Content encryption the broker accepts for encrypted ID tokens and userinfo. */
const CONTENT_ENCRYPTION = ['A128CBC-HS256', 'A256GCM'];

/** What one login's return from the upstream yields, after every check passed. */
export interface UpstreamResult {
  idToken: Record<string, unknown>;
  /** Empty when the eID's protocol has no userinfo. */
  userinfo: Record<string, unknown>;
  /** The access token the code was redeemed for, for calls of the eID's own beyond userinfo. */
  accessToken: string;
  /** The upstream's discovery document (an endpoint of its own, e.g. `profile_endpoint`). */
  serverMetadata: Readonly<Record<string, unknown>>;
  /**
   * GET `url` with the access token, as one upstream operation (metrics, circuit breaker): the
   * JSON object it answers. A non-2xx answer, a body that is not a JSON object, or a `sub` other
   * than the ID token's rejects (a rejected response, not believed).
   */
  fetchResource(operation: string, url: string): Promise<Record<string, unknown>>;
}

/**
 * The upstream answered with an OAuth error (the person cancelled, the upstream failed…). Its
 * code picks a row of a table of the broker's own words; its description and the parameters
 * the eID names (`logParameters`) go to the log only, shortened, for support.
 */
export class UpstreamError extends Error {
  constructor(
    readonly error: string,
    readonly parameters: URLSearchParams,
  ) {
    super('the upstream answered with an error');
    this.name = 'UpstreamError';
  }
}

/** A response that fails one of the broker's own checks, on top of openid-client's: never believed. */
export class ResponseRejectedError extends Error {
  readonly code = 'OAUTH_RESPONSE_REJECTED';

  constructor(reason: string) {
    super(reason);
    this.name = 'ResponseRejectedError';
  }
}

/** How much of a text an upstream chose is kept in a log line. */
const LOGGED_TEXT_LENGTH = 200;

/** An upstream's text for the log: printable ASCII (anything else becomes `?`), at most LOGGED_TEXT_LENGTH characters. */
export const loggable = (value: string) => value.slice(0, LOGGED_TEXT_LENGTH).replace(/[^\x20-\x7e]/g, '?');

/** How far in the future an upstream's clock may put an ID token's `iat`. */
const IAT_SKEW_SECONDS = 60;

/**
 * The largest body the broker reads from an upstream (discovery, JWKS, tokens, userinfo, a
 * resource): each is a few kilobytes, so a larger one is a broken or hostile upstream, refused
 * before it fills the broker's memory.
 */
export const UPSTREAM_BODY_LIMIT_BYTES = 1024 * 1024;

/** A response whose body fails once it passes `limit` bytes, so no caller reads more. */
function capped(response: Response, limit: number): Response {
  const declared = Number(response.headers.get('content-length'));
  let received = 0;
  const cap = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      received += chunk.byteLength;
      if (received > limit) controller.error(new ResponseRejectedError(`the upstream's answer is larger than ${limit} bytes`));
      else controller.enqueue(chunk);
    },
  });
  if (declared > limit) {
    void response.body?.cancel();
    throw new ResponseRejectedError(`the upstream's answer is larger than ${limit} bytes`);
  }
  if (!response.body) return response;
  return new Response(response.body.pipeThrough(cap), { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** The content types of a JWKS, as oauth4webapi accepted them. */
const JWKS_CONTENT_TYPES: ReadonlySet<string> = new Set(['application/json', 'application/jwk-set+json']);

/** What a call to the upstream answered as a JWT (application/jwt), for the signature check the broker makes itself. */
interface JwtAnswer {
  jwt?: string;
}

/**
 * The JWT answer of the call running in this context: openid-client checks a signed userinfo's
 * claims but hands back only them, so the broker's fetch keeps the JWT it read for the call.
 */
const jwtAnswers = new AsyncLocalStorage<JwtAnswer>();

/** `response`, its body kept first when it is a JWT and the running call asks for it (jwtAnswers). */
async function keptIfJwt(response: Response): Promise<Response> {
  const answer = jwtAnswers.getStore();
  // As oauth4webapi tells a JWT answer from a JSON one.
  if (!answer || response.headers.get('content-type')?.split(';')[0] !== 'application/jwt') return response;
  answer.jwt = await response.text();
  return new Response(answer.jwt, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** Hash functions of `at_hash` by the ID token's signing algorithm (OpenID Connect Core 3.1.3.6; EdDSA as Ed25519). */
const AT_HASH_DIGESTS: Readonly<Record<string, string>> = {
  RS256: 'sha256', PS256: 'sha256', ES256: 'sha256',
  RS384: 'sha384', PS384: 'sha384', ES384: 'sha384',
  RS512: 'sha512', PS512: 'sha512', ES512: 'sha512', EdDSA: 'sha512', Ed25519: 'sha512',
};

/**
 * An ID token's `at_hash`, when it has one, must be that of the access token it came with:
 * openid-client leaves it unchecked in the code flow, where it is optional, but one that does
 * not match means the two were not issued together.
 */
function checkAccessTokenHash(idToken: oidc.IDToken, accessToken: string, alg: string): void {
  if (idToken.at_hash === undefined) return;
  const digest = AT_HASH_DIGESTS[alg];
  if (!digest) throw new ResponseRejectedError(`the ID token's at_hash cannot be checked for ${alg}`);
  const hash = createHash(digest).update(accessToken).digest();
  if (idToken.at_hash !== hash.subarray(0, hash.length / 2).toString('base64url')) throw new ResponseRejectedError("the ID token's at_hash is not that of the access token");
}

/**
 * The broker as the relying party of one upstream OpenID Connect eID, on openid-client: code
 * flow with PKCE S256, state and nonce, the `iss` authorization response parameter checked when
 * the upstream supports it and the ID token's issuer always, and full ID token validation
 * (signature with the one configured algorithm — also for tokens from the token endpoint —
 * aud, exp, iat, nonce, azp, and at_hash when present). Every answer's body is capped at
 * UPSTREAM_BODY_LIMIT_BYTES. Discovery happens on first use, so an upstream that is down at
 * start-up harms only its own logins.
 *
 * openid-client checks the claims; the signatures of ID tokens and signed userinfo the broker
 * checks itself against the upstream's JWKS (UpstreamSigningKeys), because a failure in
 * openid-client's own check comes after the code was redeemed and discards the tokens, and its
 * JWKS cache cannot be refreshed on demand: after an upstream rotated its keys, every login
 * would fail for up to a minute (a new kid), or up to five (new material under the same kid).
 * Here, a token whose key is missing or does not verify it makes the broker fetch the JWKS again
 * at once and check the same token once more, so the login during the rotation succeeds; such
 * fetches are shared and bounded (KEY_REFETCH_INTERVAL_MS), and a token that still fails is
 * rejected as before.
 */
export class UpstreamClient {
  readonly #options: UpstreamClientOptions;
  #configuration: Promise<oidc.Configuration> | undefined;
  readonly #signingKeys: UpstreamSigningKeys;

  constructor(options: UpstreamClientOptions) {
    this.#options = options;
    this.#signingKeys = new UpstreamSigningKeys(() => this.#readJwks(), options.idTokenSigningAlg);
  }

  /** openid-client's time limit of each call, in whole seconds; the JWKS has the same. */
  get #timeoutSeconds(): number {
    return Math.ceil(this.#options.timeoutMs / 1000);
  }

  /** One call to the upstream, through the telemetry (metrics, circuit breaker) when there is one. */
  #call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const { telemetry } = this.#options;
    return telemetry ? telemetry.run(operation, work, { classify: classifyUpstreamError }) : work();
  }

  /**
   * Resolves when the upstream serves its discovery document and its JWKS; cheap GETs with the
   * time limit, for the circuit breaker's probes. The keys too: without them every login fails
   * after the person has identified at the upstream, so a probe that passed on discovery alone
   * would close the circuit and send people there for nothing.
   */
  async probe(): Promise<void> {
    const { issuer, timeoutMs } = this.#options;
    const url = new URL(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    await response.body?.cancel();
    if (response.status >= 500 || response.status === 429) throw Object.assign(new Error(`the upstream answered ${response.status}`), { status: response.status });
    if (!response.ok) throw new Error(`the upstream's discovery document answered ${response.status}`);
    await this.#readJwks();
  }

  #authentication(): oidc.ClientAuth {
    const { tokenEndpointAuthMethod: method, clientSecret, keys } = this.#options;
    if (method === 'private_key_jwt') return oidc.PrivateKeyJwt({ key: keys.signing.key, kid: keys.signing.kid });
    return method === 'client_secret_post' ? oidc.ClientSecretPost(clientSecret) : oidc.ClientSecretBasic(clientSecret);
  }

  #metadata(): Partial<oidc.ClientMetadata> {
    const { idTokenSigningAlg, userinfo, requestObject } = this.#options;
    return {
      id_token_signed_response_alg: idTokenSigningAlg,
      ...(userinfo === 'jwt' ? { userinfo_signed_response_alg: idTokenSigningAlg } : {}),
      ...(requestObject !== 'none' ? { request_object_signing_alg: this.#options.keys.signing.alg } : {}),
    };
  }

  /**
   * fetch with every answer's body capped, the named headers of its answer in the log (when the
   * eID names any), and a JWT answer kept for the call that asks for it (jwtAnswers).
   */
  readonly #cappedFetch: oidc.CustomFetch = async (url, options) => {
    const { logHeaders = [], log } = this.#options;
    const response = await fetch(url, options);
    if (logHeaders.length) {
      const headers = logHeaders.flatMap((name) => {
        const value = response.headers.get(name);
        return value ? [[name, loggable(value)]] : [];
      });
      log.info({ upstreamCall: new URL(url).pathname, status: response.status, upstreamHeaders: Object.fromEntries(headers) }, 'upstream answered');
    }
    return keptIfJwt(capped(response, UPSTREAM_BODY_LIMIT_BYTES));
  };

  #fetch(): { [oidc.customFetch]: oidc.CustomFetch } {
    return { [oidc.customFetch]: this.#cappedFetch };
  }

  /** The upstream's JWKS, through the same capped fetch and time limit as every call to it, and only over HTTPS. */
  async #readJwks(): Promise<JSONWebKeySet> {
    const { jwks_uri: uri } = (await this.configuration()).serverMetadata();
    const url = typeof uri === 'string' && URL.canParse(uri) ? new URL(uri) : undefined;
    if (!url || (url.protocol !== 'https:' && !(this.#options.allowHttp && url.protocol === 'http:'))) throw new ResponseRejectedError('the upstream names no HTTPS jwks_uri');
    const response = await this.#cappedFetch(url.href, {
      body: undefined,
      headers: { accept: 'application/json, application/jwk-set+json' },
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(this.#timeoutSeconds * 1000),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw Object.assign(new ResponseRejectedError(`the upstream's JWKS answered ${response.status}`), { status: response.status });
    }
    if (!JWKS_CONTENT_TYPES.has(response.headers.get('content-type')?.split(';')[0] ?? '')) {
      await response.body?.cancel();
      throw new ResponseRejectedError("the upstream's JWKS is not JSON");
    }
    return (await response.json().catch((err: unknown) => {
      throw err instanceof ResponseRejectedError ? err : new ResponseRejectedError("the upstream's JWKS is not JSON");
    })) as JSONWebKeySet;
  }

  /**
   * The signed JWT an ID token or userinfo is: itself, or — encrypted to the broker — its
   * content, decrypted with the broker's key for it (as openid-client decrypted it for the claims).
   */
  async #signedJwt(jwt: string): Promise<string> {
    if (jwt.split('.').length !== 5) return jwt;
    const { decryption } = this.#options.keys;
    const { plaintext } = await compactDecrypt(
      jwt,
      ({ kid, alg }) => {
        const key = decryption.find((candidate) => (kid === undefined || candidate.kid === kid) && candidate.alg === alg);
        if (!key) throw new ResponseRejectedError('no key of the broker decrypts the answer');
        return key.key;
      },
      { keyManagementAlgorithms: decryption.map((key) => key.alg), contentEncryptionAlgorithms: CONTENT_ENCRYPTION },
    );
    return new TextDecoder().decode(plaintext);
  }

  /** Resolves when the upstream's keys verify the signature of `jwt` (see UpstreamSigningKeys for a rotation). */
  async #checkSignature(jwt: string): Promise<void> {
    await this.#signingKeys.verify(await this.#signedJwt(jwt));
  }

  configuration(): Promise<oidc.Configuration> {
    const { issuer, clientId, allowHttp, encryptedResponses, keys } = this.#options;
    this.#configuration ??= this.#call('discovery', () =>
      oidc.discovery(new URL(issuer), clientId, this.#metadata(), this.#authentication(), {
        timeout: this.#timeoutSeconds,
        execute: allowHttp ? [oidc.allowInsecureRequests] : [],
        ...this.#fetch(),
      }),
    )
      .then((configuration) => {
        Object.assign(configuration, this.#fetch());
        configuration.timeout = this.#timeoutSeconds;
        // openid-client trusts an ID token from the token endpoint on TLS alone: the broker
        // checks its signature too (#checkSignature), not with openid-client's non-repudiation
        // checks, whose failure would discard the tokens (see the class's comment).
        if (encryptedResponses) oidc.enableDecryptingResponses(configuration, CONTENT_ENCRYPTION, ...keys.decryption);
        return configuration;
      })
      .catch((err: unknown) => {
        // Try discovery again at the next login rather than remembering the failure.
        this.#configuration = undefined;
        throw err;
      });
    return this.#configuration;
  }

  /** Where to send the browser: the upstream's authorization endpoint, signed as a request object when required. */
  async authorizationUrl(parameters: Record<string, string>): Promise<URL> {
    const configuration = await this.configuration();
    const { requestObject, keys } = this.#options;
    if (requestObject === 'none') return oidc.buildAuthorizationUrl(configuration, parameters);
    const url = await oidc.buildAuthorizationUrlWithJAR(configuration, parameters, { key: keys.signing.key, kid: keys.signing.kid });
    if (requestObject === 'request-only') url.searchParams.delete('client_id');
    return url;
  }

  /**
   * Checks the authorization response at `callbackUrl` against this login's state, and on
   * success redeems the code and validates every token before anything in them is believed.
   */
  async complete(callbackUrl: URL, checks: { state: string; nonce: string; codeVerifier: string }): Promise<UpstreamResult> {
    const configuration = await this.configuration();
    // An error response is checked for its issuer like any other, before its code is believed.
    const { issuer, authorization_response_iss_parameter_supported: issPromised } = configuration.serverMetadata();
    const iss = callbackUrl.searchParams.get('iss');
    // RFC 9207: an answer naming another issuer, or none although this one promises to, is a mix-up.
    if (iss !== null ? iss !== issuer : issPromised === true) throw new ResponseRejectedError('the authorization response names another issuer');
    const error = callbackUrl.searchParams.get('error');
    if (error) throw new UpstreamError(error, callbackUrl.searchParams);
    const tokens = await this.#call('token', async () => {
      const grant = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      await this.#checkSignature(grant.id_token!);
      return grant;
    });
    const idToken = tokens.claims()!;
    if (idToken.iat > Math.floor(Date.now() / 1000) + IAT_SKEW_SECONDS) throw new ResponseRejectedError('the ID token was issued in the future');
    checkAccessTokenHash(idToken, tokens.access_token, this.#options.idTokenSigningAlg);
    const userinfo = this.#options.userinfo === 'none' ? {} : await this.#call('userinfo', () => this.#userinfo(configuration, tokens.access_token, idToken.sub));
    return {
      idToken: { ...idToken },
      userinfo: { ...userinfo },
      accessToken: tokens.access_token,
      serverMetadata: configuration.serverMetadata(),
      fetchResource: (operation, url) => this.#call(operation, () => this.#resource(configuration, tokens.access_token, idToken.sub, url)),
    };
  }

  /** The upstream's userinfo about `sub`: its claims checked by openid-client, its signature (when it is a JWT) by the broker. */
  async #userinfo(configuration: oidc.Configuration, accessToken: string, sub: string): Promise<oidc.UserInfoResponse> {
    const answer: JwtAnswer = {};
    const claims = await jwtAnswers.run(answer, () => oidc.fetchUserInfo(configuration, accessToken, sub));
    if (answer.jwt !== undefined) await this.#checkSignature(answer.jwt);
    return claims;
  }

  /** One protected resource of the upstream, read with the access token and checked to be about this person. */
  async #resource(configuration: oidc.Configuration, accessToken: string, sub: string, url: string): Promise<Record<string, unknown>> {
    const response = await oidc.fetchProtectedResource(configuration, accessToken, new URL(url), 'GET', null, new Headers({ accept: 'application/json' }));
    if (!response.ok) {
      await response.body?.cancel();
      throw Object.assign(new ResponseRejectedError(`the upstream's ${new URL(url).pathname} answered ${response.status}`), { status: response.status });
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ResponseRejectedError(`the upstream's ${new URL(url).pathname} did not answer a JSON object`);
    const claims = body as Record<string, unknown>;
    if (claims.sub !== undefined && claims.sub !== sub) throw new ResponseRejectedError(`the upstream's ${new URL(url).pathname} is about another person (sub)`);
    return claims;
  }
}
