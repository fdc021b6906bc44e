import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import Router from '@koa/router';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import Koa, { type Context } from 'koa';
import { join } from 'node:path';
import { pluginFolder } from '../../../src/eids/sdk.js';
import { checkAuthorizationRequest, responseUrl, supportedScopes, type AuthorizationRequest, type RegisteredClient } from './authorization.js';
import { decisionPage, overPage } from './page.js';
import { scopeClaims, simulatedBanks, simulatedPersons, verifiedClaimNames, type SimulatedBank, type SimulatedCzechPerson } from './people.js';
import { listenOn, stopServer } from '../../shared/simulator-server.js';
import { SimulatorTexts } from '../../shared/simulator-language.js';
import { simulatorStylesheetStep } from '../../shared/simulator-page.js';

/** The broker (or a test's client) as registered at the simulated Bank iD. */
export interface BankIdRegistration {
  client_id: string;
  /** Bank iD's client_secret_post; without one the simulator makes one up, which no client then knows. */
  client_secret?: string;
  redirect_uri: string;
  /** The scopes enabled for the client; default all of Bank iD's. */
  scopes?: readonly string[];
  /** Default 0: any free port. */
  port?: number;
}

/**
 * Failures a test can switch on, to see the broker refuse or report what it must (named as the
 * upstream OIDC kit's simulators name theirs).
 */
export interface BankIdSimulatorFaults {
  /** Answers the token endpoint this late. */
  tokenDelayMs: number;
  /**
   * Signs ID tokens with a key other than the one it publishes, as a forger would (whatever
   * the relying party has cached of its JWKS, the token's key is not in it).
   */
  foreignSigningKeys: boolean;
  /** Puts this nonce in ID tokens instead of the one the relying party sent. */
  replaceNonce?: string;
  /** Every request answers 503, as Bank iD in an outage. */
  unavailable: boolean;
  /** /profile leaves the birth number out although the scope was granted. */
  profileWithoutBirthNumber: boolean;
}

export interface CzechBankIdSimulator {
  /** With a trailing slash, as Bank iD's issuers have: http://127.0.0.1:PORT/ */
  issuer: string;
  faults: BankIdSimulatorFaults;
  /** How many requests for its JWKS it has answered. */
  readonly jwksRequests: number;
  /** Signs from now on with a new key, published instead of the old one: under a new kid, or under the same one. */
  rotateSigningKey(options?: { sameKid?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** Lifetimes as Bank iD's sandbox shows them; a code is good for a minute. */
const CODE_TTL_MS = 60_000;
const ACCESS_TOKEN_TTL_SECONDS = 3600;
const ID_TOKEN_TTL_SECONDS = 600;
const REQUEST_TTL_MS = 10 * 60_000;
/** Anyone can start an authorization: at most this many wait at once, the oldest dropped first. */
const MAX_PENDING = 1000;
const MAX_FORM_BYTES = 16 * 1024;
const ID_TOKEN_ALG = 'PS512';

interface IssuedCode {
  request: AuthorizationRequest;
  person: SimulatedCzechPerson;
  bank: SimulatedBank;
  authTime: number;
}

interface IssuedAccessToken {
  clientId: string;
  sub: string;
  scopes: string[];
  person: SimulatedCzechPerson;
  bank: SimulatedBank;
}

/** A map whose entries lapse, holding at most `max` of them. */
class Expiring<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(private readonly max: number) {}

  set(key: string, value: V, ttlMs: number): void {
    if (this.#entries.size >= this.max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  /** The value, removed: every entry here is single-use. */
  take(key: string): V | undefined {
    const entry = this.#entries.get(key);
    this.#entries.delete(key);
    return entry && entry.expiresAt > Date.now() ? entry.value : undefined;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    return entry && entry.expiresAt > Date.now() ? entry.value : undefined;
  }
}

/** Bank iD's subjects are pairwise UUIDs: the same person looks different to each client. */
function pairwiseSub(clientId: string, accountId: string): string {
  const hex = createHash('sha256').update(`${clientId}:${accountId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** 16 letters and digits, as Bank iD's traceId header. */
const traceId = () => randomBytes(12).toString('base64url').replace(/[-_]/g, 'x').slice(0, 16);

const equalSecrets = (a: string, b: string) => {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
};

async function readForm(ctx: Context): Promise<URLSearchParams | undefined> {
  if (!ctx.is('application/x-www-form-urlencoded')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) ctx.throw(413, 'request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function ageOn(birthdate: string, now: Date): number {
  const today = now.toISOString().slice(0, 10);
  return Number(today.slice(0, 4)) - Number(birthdate.slice(0, 4)) - (today.slice(5) < birthdate.slice(5) ? 1 : 0);
}

/** The claims of `endpoint` that the granted scopes release; derived ones (age) computed. */
function releasedClaims(person: SimulatedCzechPerson, scopes: readonly string[], endpoint: 'userinfo' | 'profile'): Record<string, unknown> {
  const known: Record<string, unknown> = { ...person.claims };
  if (typeof known.birthdate === 'string') known.age = ageOn(known.birthdate, new Date());
  const names = scopes.flatMap((scope) => scopeClaims[scope]?.[endpoint] ?? []);
  return Object.fromEntries(names.filter((name) => known[name] !== undefined).map((name) => [name, known[name]]));
}

/**
 * A simulated Czech Bank iD (Bankovní identita) for development and tests, as strict as its API
 * documentation: discovery and JWKS, /auth with a page to choose a bank and a test person and to
 * approve or decline, /token (client_secret_post only, form bodies only, single-use codes bound to
 * client, redirect_uri and PKCE), ID tokens signed PS512, and /userinfo and /profile for a Bearer
 * access token only. Every answer carries a traceId header.
 *
 * Not on the upstream kit's oidc-provider simulator: nearly every rule above is one where Bank
 * iD departs from what oidc-provider does, so each is written here once, plainly, rather than as
 * an override of the library.
 */
/** The page's words: Bank iD's own Czech, and the broker's five languages (cz-bankid's locales/, section bankid-cz-simulator). */
const texts = new SimulatorTexts([join(pluginFolder(import.meta.url), '..')], 'bankid-cz-simulator', ['cs']);

function withLanguage(query: string, locale: string): URLSearchParams {
  const params = new URLSearchParams(query);
  params.set('lang', locale);
  return params;
}

export async function startCzechBankIdSimulator(registration: BankIdRegistration): Promise<CzechBankIdSimulator> {
  const server = createServer();
  const port = await listenOn(server, '127.0.0.1', registration.port ?? 0);
  const issuer = `http://127.0.0.1:${port}/`;
  const url = (path: string) => new URL(path, issuer).href;

  const [first, foreign] = await Promise.all([signingKey(), signingKey()]);
  // The key it signs with and publishes, until a test rotates it.
  let signing = first;
  let jwksRequests = 0;

  const client: RegisteredClient = {
    client_id: registration.client_id,
    client_secret: registration.client_secret ?? randomBytes(24).toString('base64url'),
    redirect_uris: [registration.redirect_uri],
    scopes: registration.scopes ?? supportedScopes,
  };
  const clients = new Map([[client.client_id, client]]);
  const requests = new Expiring<AuthorizationRequest>(MAX_PENDING);
  const codes = new Expiring<IssuedCode>(MAX_PENDING);
  const accessTokens = new Expiring<IssuedAccessToken>(MAX_PENDING);
  const faults: BankIdSimulatorFaults = { tokenDelayMs: 0, foreignSigningKeys: false, unavailable: false, profileWithoutBirthNumber: false };

  /** The login this browser was last shown the decision page of, by its state (overPage); named by the port, as browsers share cookies across ports. */
  const stateCookie = `_bankid_cz_state_${port}`;

  const router = new Router();
  router.get('/.well-known/openid-configuration', (ctx) => {
    ctx.body = {
      issuer,
      authorization_endpoint: url('auth'),
      token_endpoint: url('token'),
      userinfo_endpoint: url('userinfo'),
      profile_endpoint: url('profile'),
      jwks_uri: url('.well-known/jwks'),
      scopes_supported: supportedScopes,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code'],
      acr_values_supported: ['loa3'],
      subject_types_supported: ['pairwise'],
      code_challenge_methods_supported: ['S256'],
      id_token_signing_alg_values_supported: [ID_TOKEN_ALG],
      token_endpoint_auth_methods_supported: ['client_secret_post'],
      claims_parameter_supported: false,
      request_parameter_supported: false,
      ui_locales_supported: ['cs', 'en'],
    };
  });
  router.get('/.well-known/jwks', (ctx) => {
    jwksRequests += 1;
    ctx.body = { keys: [signing.publicJwk] };
  });
  router.get('/api/v1/banks', (ctx) => {
    ctx.body = { items: simulatedBanks.map(({ id, title }) => ({ id, title, description: title, available_logo_images: [], available_services: ['AUTHENTICATION'] })) };
  });

  router.get('/auth', (ctx) => {
    const checked = checkAuthorizationRequest(ctx.query as Record<string, string | undefined>, clients);
    if ('refused' in checked) {
      ctx.status = 400;
      ctx.body = checked.refused;
      return;
    }
    if ('redirect' in checked) return ctx.redirect(checked.redirect.href);
    const requestId = randomBytes(16).toString('base64url');
    requests.set(requestId, checked, REQUEST_TTL_MS);
    ctx.cookies.set(stateCookie, checked.state, { httpOnly: true, sameSite: 'lax', signed: false, overwrite: true });
    ctx.type = 'html';
    ctx.body = decisionPage({
      requestId,
      // Its language links show the page again for the same request: ?lang= wins over ui_locales.
      language: texts.pageLanguage(
        { lang: typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined, uiLocales: checked.uiLocales, acceptLanguage: ctx.get('accept-language') },
        (locale) => `/auth?${withLanguage(ctx.querystring, locale)}`,
      ),
      banks: simulatedBanks,
      persons: simulatedPersons,
      scopes: checked.scopes,
      ...(checked.bankId ? { bankId: checked.bankId } : {}),
    });
  });

  router.post('/auth/decision', async (ctx) => {
    const form = await readForm(ctx);
    const request = form && requests.take(form.get('request') ?? '');
    if (!request) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = overPage(texts.pageLanguage({ acceptLanguage: ctx.get('accept-language') }, () => ''), registration.redirect_uri, ctx.cookies.get(stateCookie, { signed: false }));
      return;
    }
    const back = (params: Record<string, string>) => ctx.redirect(responseUrl(request.redirectUri, { ...params, state: request.state }).href);
    const bank = simulatedBanks.find((candidate) => candidate.id === form.get('bank'));
    const person = simulatedPersons.find((candidate) => candidate.accountId === form.get('person'));
    if (form.get('decision') !== 'approve' || !bank || !person) return back({ error: 'access_denied', error_description: 'the person declined' });
    const error = bank.error ?? person.error;
    if (error) return back({ error, error_description: `simulated ${error}` });
    const code = randomBytes(32).toString('base64url');
    codes.set(code, { request, person, bank, authTime: Math.floor(Date.now() / 1000) }, CODE_TTL_MS);
    back({ code });
  });

  /** RFC 6749 token endpoint errors; `invalid_client` is 401. */
  const tokenError = (ctx: Context, error: string, description: string) => {
    ctx.status = error === 'invalid_client' ? 401 : 400;
    ctx.body = { error, error_description: description };
  };

  router.post('/token', async (ctx) => {
    ctx.set({ 'cache-control': 'no-store', pragma: 'no-cache' });
    const form = await readForm(ctx);
    // After the body is read: a client that gave up in the meantime leaves nothing to read.
    if (faults.tokenDelayMs) await sleep(faults.tokenDelayMs);
    if (!form) {
      ctx.status = 415;
      ctx.body = { error: 'invalid_content_type', error_description: 'application/x-www-form-urlencoded only' };
      return;
    }
    if (ctx.get('authorization')) return tokenError(ctx, 'invalid_client', 'client_secret_post only');
    const registered = clients.get(form.get('client_id') ?? '');
    if (!registered || !equalSecrets(form.get('client_secret') ?? '', registered.client_secret)) return tokenError(ctx, 'invalid_client', 'Bad client credentials');
    if (form.get('grant_type') !== 'authorization_code') return tokenError(ctx, 'unsupported_grant_type', 'authorization_code only');
    const issued = codes.take(form.get('code') ?? '');
    if (!issued || issued.request.client.client_id !== registered.client_id) return tokenError(ctx, 'invalid_grant', 'unknown, used or expired code');
    if (form.get('redirect_uri') !== issued.request.redirectUri) return tokenError(ctx, 'invalid_grant', 'redirect_uri differs from the authorization request');
    const verifier = form.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== issued.request.codeChallenge) return tokenError(ctx, 'invalid_grant', 'PKCE verification failed');

    const sub = pairwiseSub(registered.client_id, issued.person.accountId);
    const accessToken = randomBytes(32).toString('base64url');
    accessTokens.set(
      accessToken,
      { clientId: registered.client_id, sub, scopes: issued.request.scopes, person: issued.person, bank: issued.bank },
      ACCESS_TOKEN_TTL_SECONDS * 1000,
    );
    ctx.body = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: ACCESS_TOKEN_TTL_SECONDS,
      scope: issued.request.scopes.join(' '),
      id_token: await idToken(faults.foreignSigningKeys ? foreign : signing, { iss: issuer, sub, aud: registered.client_id, nonce: faults.replaceNonce ?? issued.request.nonce, auth_time: issued.authTime }),
    };
  });

  /** The access token of a Bearer request, or an upper-case error as Bank iD answers. */
  function bearer(ctx: Context): IssuedAccessToken | undefined {
    const [scheme, token] = ctx.get('authorization').split(' ');
    const found = scheme?.toLowerCase() === 'bearer' && token ? accessTokens.get(token) : undefined;
    if (!found) {
      ctx.status = 401;
      ctx.set('www-authenticate', 'Bearer error="invalid_token"');
      ctx.body = { error: 'UNAUTHORIZED', error_description: 'a valid Bearer access token is required' };
    }
    return found;
  }

  router.get('/userinfo', (ctx) => {
    const token = bearer(ctx);
    if (!token) return;
    ctx.body = { sub: token.sub, txn: randomUUID(), ...releasedClaims(token.person, token.scopes, 'userinfo') };
  });

  router.get('/profile', (ctx) => {
    const token = bearer(ctx);
    if (!token) return;
    const claims = releasedClaims(token.person, token.scopes, 'profile');
    if (faults.profileWithoutBirthNumber) delete claims.birthnumber;
    const verified = Object.fromEntries(verifiedClaimNames.filter((name) => claims[name] !== undefined).map((name) => [name, claims[name]]));
    ctx.body = {
      sub: token.sub,
      txn: `${randomUUID()}:${token.scopes.join(':')}`,
      ...claims,
      ...(token.scopes.includes('profile.verification')
        ? { verified_claims: { verification: { trust_framework: 'cz_aml', time: new Date().toISOString(), verification_process: token.bank.cnbCode }, claims: verified } }
        : {}),
    };
  });

  const app = new Koa();
  app.use(async (ctx, next) => {
    ctx.set({ traceId: traceId(), 'access-control-expose-headers': 'traceId' });
    if (faults.unavailable) {
      ctx.status = 503;
      ctx.body = { error: 'server_error', error_description: 'the simulated Bank iD is down' };
      return;
    }
    await next();
  });
  app.use(simulatorStylesheetStep());
  app.use(router.routes());
  app.use(router.allowedMethods());
  server.on('request', app.callback());

  return {
    issuer,
    faults,
    get jwksRequests() {
      return jwksRequests;
    },
    async rotateSigningKey({ sameKid = false } = {}) {
      const fresh = await signingKey();
      signing = sameKid ? { ...fresh, publicJwk: { ...fresh.publicJwk, kid: signing.publicJwk.kid } } : fresh;
    },
    async close() {
      await stopServer(server);
    },
  };
}

interface SigningKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function signingKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(ID_TOKEN_ALG, { modulusLength: 2048 });
  const jwk = await exportJWK(publicKey);
  return { privateKey, publicJwk: { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: ID_TOKEN_ALG, use: 'sig' } };
}

function idToken(key: SigningKey, claims: { iss: string; sub: string; aud: string; nonce: string; auth_time: number }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...claims, acr: 'loa3', amr: ['pwd', 'otp'] })
    .setProtectedHeader({ alg: ID_TOKEN_ALG, kid: key.publicJwk.kid! })
    .setIssuedAt(now)
    .setExpirationTime(now + ID_TOKEN_TTL_SECONDS)
    .setJti(randomUUID())
    .sign(key.privateKey);
}
