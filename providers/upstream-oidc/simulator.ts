import { createServer, type Server } from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash, randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import Koa from 'koa';
import mount from 'koa-mount';
import Provider, { errors, interactionPolicy, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { loginEveryTime, memoryAdapter, SIMULATOR_KEY_LIFETIME_MS, simulatorCached } from '../../src/eids/sdk.js';
import type { SimulatorRegistration } from './index.js';
import type { RawAnswer } from '../shared/raw-answer.js';
import { listenOn, stopServer } from '../shared/simulator-server.js';
import { backToBroker, escapeHtml, personShown, SIMULATOR_STYLESHEET_LINK, simulatorStylesheetStep } from '../shared/simulator-page.js';
import { SimulatorTexts, type LanguageAsked, type Translate } from '../shared/simulator-language.js';

/**
 * A simulated upstream OpenID Connect eID, built with oidc-provider, for development and
 * tests: a person picks a test person on its page (or cancels), and it issues tokens in the
 * formats the real eID uses. Each eID's simulator (providers/<id>/simulator) is a definition
 * of this kit.
 */
export interface SimulatedPerson {
  /** What the person-picker button says: the person's name and number, as their eID has them. */
  label?: string;
  /** What sets the person apart, in words: a key of the eID's texts (upstream-simulator.<note>), after the label. */
  note?: string;
  accountId: string;
  /** Every claim the upstream knows about the person; scopes decide which are released. */
  claims: Record<string, unknown>;
}

export interface UpstreamSimulatorDefinition {
  /** The eID's plugin folder: its locales/ name the simulator (`upstream-simulator.title`) in every language. */
  folder: string;
  persons: SimulatedPerson[];
  /** Scope → claims, as oidc-provider's `claims` configuration. */
  claims: Record<string, string[]>;
  /** The acr of a login, from the authorization request's parameters and the person. */
  acrFor(params: Record<string, unknown>, person: SimulatedPerson): string;
  amr: string[];
  /** true: scope claims only in userinfo, the ID token keeps openid's (as MitID brokers do). */
  claimsOnlyInUserinfo?: boolean;
  /** Non-standard authorization parameters the upstream takes (language, idp_params…). */
  extraParams?: string[];
  /** error_description of a cancelled login (MitID brokers say mitid_user_aborted). */
  cancelDescription?: string;
  /** Only `request` arrives (no client_id beside it), as some FTN brokers demand. */
  requestOnly?: boolean;
  features?: { jwtUserinfo?: boolean; encryption?: boolean; requestObjects?: boolean; pairwise?: boolean };
}

/** Failures a test can switch on, to see the broker refuse what it must. */
export interface SimulatorFaults {
  /** Answers the token endpoint this late. */
  tokenDelayMs: number;
  /** Publishes keys other than the ones it signs with, as a forged or mixed-up upstream would. */
  foreignSigningKeys: boolean;
  /** Puts this nonce in ID tokens instead of the one the broker sent. */
  replaceNonce?: string;
  /** Answers every request with 503, as an upstream in trouble does. */
  unavailable?: boolean;
  /**
   * Answers the token endpoint 503 where `pattern` says true: one entry per call, over and
   * over, `next` being the entry of the next call — an upstream that fails some of the time.
   */
  tokenFailures?: { pattern: boolean[]; next: number };
  /** Puts `iat` this many seconds ahead in the (signed, not encrypted) ID tokens it issues, as an upstream with a wrong clock would. */
  issuedAtAheadSeconds?: number;
  /** Issues (signed, not encrypted) ID tokens changed this way, as a forged or broken upstream would. */
  idToken?: IdTokenForgery;
  /** Signs its (not encrypted) userinfo JWTs this way instead, as a forged upstream would. */
  userinfoSigning?: IdTokenForgery['signing'];
  /** Pads the token response with this many bytes of JSON, as a broken or hostile upstream might. */
  tokenResponsePaddingBytes?: number;
  /** Sends the token response chunked, with no Content-Length announcing its size. */
  tokenResponseChunked?: boolean;
  /** Answers the token endpoint with something other than tokens, as a broken or hostile upstream might. */
  tokenAnswer?: keyof typeof ROGUE_TOKEN_ANSWERS;
  /** Answers userinfo with this, whatever it holds, as a broken or hostile upstream (or a proxy) might. */
  userinfoAnswer?: RawAnswer;
  /** Resets every connection that asks for its JWKS, as when the host serving the keys cannot be reached. */
  jwksUnreachable?: boolean;
  /** Answers its JWKS this late, as an overloaded key server does. */
  jwksDelayMs?: number;
}

/**
 * Token endpoint answers that are no token response: a redirect (to this machine's Redis), an
 * HTML page, JSON whose last bytes come slower than any timeout, JSON cut off by the connection
 * closing before the length it announced, and a connection reset (TCP RST) before any answer.
 */
const ROGUE_TOKEN_ANSWERS = {
  redirect: (ctx: Koa.Context) => {
    ctx.status = 307;
    ctx.set('location', 'http://127.0.0.1:6379/');
  },
  html: (ctx: Koa.Context) => {
    ctx.type = 'html';
    ctx.body = '<html><body>Service unavailable</body></html>';
  },
  trickle: (ctx: Koa.Context) => {
    ctx.type = 'json';
    ctx.body = Readable.from((async function* trickle() {
      yield '{"access_token":"a","token_type":"Bearer",';
      await sleep(60_000);
      yield '"expires_in":60}';
    })());
  },
  truncated: (ctx: Koa.Context) => {
    ctx.respond = false;
    ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
    ctx.res.write('{"access_token":"a","token_type":"Bearer",', () => ctx.socket.destroy());
  },
  reset: (ctx: Koa.Context) => {
    ctx.respond = false;
    ctx.socket.resetAndDestroy();
  },
} satisfies Record<string, (ctx: Koa.Context) => void>;

/** How an ID token is changed: its claims, and how it is then signed. */
export interface IdTokenForgery {
  /** The claims to sign, from those issued and the token response they came in. */
  claims?: (claims: Record<string, unknown>, response: Record<string, unknown>) => Record<string, unknown>;
  /**
   * The simulator's own key (the default); unsigned (`alg: none`); HS256 with its public key's
   * JSON as the secret; or a key it never published, under that key's own kid or under the kid
   * of the key it publishes.
   */
  signing?: 'key' | 'none' | 'hs256-public-key' | 'unpublished-key' | 'unpublished-key-published-kid';
}

export interface UpstreamSimulator {
  issuer: string;
  faults: SimulatorFaults;
  /** How many requests for its JWKS it has answered. */
  readonly jwksRequests: number;
  /**
   * Signs from now on with a new key, which its JWKS publishes instead of the old one: under a
   * new kid, or under the same kid (new key material), as an upstream rotating its keys does.
   */
  rotateSigningKey(options?: { sameKid?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * The broker as the simulator's registered client: with its secret, or with its public keys
 * (private_key_jwt, request objects, encryption), plus whatever the eID's formats need.
 */
export function registeredClient(registration: SimulatorRegistration, formats: Partial<ClientMetadata> = {}): ClientMetadata {
  return {
    client_id: registration.client_id,
    ...(registration.client_secret ? { client_secret: registration.client_secret } : {}),
    jwks: registration.jwks as ClientMetadata['jwks'],
    redirect_uris: [registration.redirect_uri],
    token_endpoint_auth_method: registration.token_endpoint_auth_method,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    ...formats,
  };
}

const SESSION_COOKIE = '_upstream_session';

/** Like a real eID, the simulator asks the person every time: it never logs in from its own session. */
function alwaysAsk() {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(loginEveryTime(), 0);
  return policy;
}

async function signingJwks(): Promise<{ keys: JWK[] }> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { keys: [{ ...jwk, alg: 'RS256', use: 'sig', kid: await calculateJwkThumbprint(jwk) }] };
}

/** A key without its private parts, as a JWKS publishes it. */
const publicHalf = ({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest }: JWK): JWK => rest;

/** The private keys a forged JWT may be signed with: the one the simulator publishes, and one it never does. */
interface ForgeryKeys {
  published: JWK;
  unpublished: JWK;
}

/** Which key signs a forged JWT, and whether under its own kid rather than the one the JWT was issued with. */
const FORGERY_SIGNERS: Record<'key' | 'unpublished-key' | 'unpublished-key-published-kid', { key: keyof ForgeryKeys; ownKid: boolean }> = {
  key: { key: 'published', ownKid: false },
  'unpublished-key': { key: 'unpublished', ownKid: true },
  'unpublished-key-published-kid': { key: 'unpublished', ownKid: false },
};

/** `claims` signed as `signing` says, from the keys and the kid the simulator issued them with. */
async function signedAs(signing: NonNullable<IdTokenForgery['signing']>, keys: ForgeryKeys, kid: string, claims: Record<string, unknown>): Promise<string> {
  if (signing === 'none') {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${part({ alg: 'none', kid })}.${part(claims)}.`;
  }
  if (signing === 'hs256-public-key') {
    return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(new TextEncoder().encode(JSON.stringify(publicHalf(keys.published))));
  }
  const signer = FORGERY_SIGNERS[signing];
  const key = keys[signer.key];
  return new SignJWT(claims).setProtectedHeader({ alg: String(key.alg), kid: signer.ownKid ? key.kid! : kid }).sign(await importJWK(key, String(key.alg)));
}

/** The token response's ID token changed as `forgery` says and signed again: the forged and faulty upstream faults. */
async function reissueIdToken(ctx: Koa.Context, keys: ForgeryKeys, forgery: IdTokenForgery): Promise<void> {
  const body = ctx.body as { id_token?: string } | undefined;
  if (typeof body?.id_token !== 'string') return;
  const claims = (forgery.claims ?? ((same) => same))(decodeJwt(body.id_token), body);
  body.id_token = await signedAs(forgery.signing ?? 'key', keys, decodeProtectedHeader(body.id_token).kid!, claims);
}

/** The userinfo JWT answered signed again as `signing` says. */
async function resignUserinfo(ctx: Koa.Context, keys: ForgeryKeys, signing: NonNullable<IdTokenForgery['signing']>): Promise<void> {
  if (typeof ctx.body !== 'string' || !ctx.response.is('application/jwt')) return;
  ctx.body = await signedAs(signing, keys, decodeProtectedHeader(ctx.body).kid!, decodeJwt(ctx.body));
}

/** An ID token with `iat` this many seconds ahead, as an upstream with a wrong clock issues. */
const issuedAhead = (aheadSeconds: number): IdTokenForgery => ({
  claims: (claims) => {
    const iat = Math.floor(Date.now() / 1000) + aheadSeconds;
    return { ...claims, iat, exp: iat + 600 };
  },
});

/** This kit's own texts (upstream-oidc/locales/), beneath each eID's, which names its simulator. */
const KIT_FOLDER = fileURLToPath(new URL('.', import.meta.url));

/**
 * A page of the simulator in the language asked for, its language links showing the page again
 * at `path` with another `?lang=` (an error page, with no `path`, has none: it cannot be shown
 * again); `body` gets the translator and gives HTML with every text escaped.
 */
function page(texts: SimulatorTexts, asked: LanguageAsked, path: string | undefined, body: (t: Translate) => string): string {
  const language = texts.pageLanguage(asked, (code) => `${path}?lang=${code}`);
  const { locale, t } = language;
  const links = path === undefined ? '' : language.links;
  const title = escapeHtml(t('title'));
  return `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><link rel="icon" href="data:,">${SIMULATOR_STYLESHEET_LINK}</head>
<body>${links}<main><h1>${title}</h1>${body(t)}</main></body></html>`;
}

export async function startUpstreamSimulator(
  definition: UpstreamSimulatorDefinition,
  client: ClientMetadata,
  options: { port?: number; host?: string } = {},
): Promise<UpstreamSimulator> {
  const host = options.host ?? '127.0.0.1';
  // The port comes first (the issuer names it); requests are handled once the app is complete.
  const server: Server = createServer();
  const port = await listenOn(server, host, options.port ?? 0);
  const app = new Koa();
  const issuer = `http://${host}:${port}`;
  const storage = memoryAdapter();
  const faults: SimulatorFaults = { tokenDelayMs: 0, foreignSigningKeys: false };
  const { jwks, foreignJwks } = await simulatorCached(
    `upstream-simulator-${basename(definition.folder)}`,
    async () => {
      const [jwks, foreignJwks] = await Promise.all([signingJwks(), signingJwks()]);
      return { jwks, foreignJwks };
    },
    () => Date.now() + SIMULATOR_KEY_LIFETIME_MS,
  );
  const persons = new Map(definition.persons.map((person) => [person.accountId, person]));
  const features = definition.features ?? {};
  const cookieKeys = [randomBytes(32).toString('hex')];
  const texts = new SimulatorTexts([KIT_FOLDER, definition.folder], 'upstream-simulator');

  // The keys it signs with and publishes: those kept for this eID's simulator until it rotates them.
  let signing = jwks;
  let jwksRequests = 0;
  const configuration: Configuration = {
    adapter: storage.adapter,
    clients: [client],
    // Browsers share cookies across ports: the simulator's must not be named like the broker's.
    cookies: { keys: cookieKeys, names: { session: SESSION_COOKIE, interaction: '_upstream_interaction', resume: '_upstream_resume' } },
    claims: definition.claims,
    scopes: Object.keys(definition.claims),
    acrValues: [...new Set(definition.persons.map((person) => definition.acrFor({}, person)))],
    conformIdTokenClaims: Boolean(definition.claimsOnlyInUserinfo),
    extraParams: definition.extraParams ?? [],
    responseTypes: ['code'],
    pkce: { required: () => true },
    subjectTypes: features.pairwise ? ['public', 'pairwise'] : ['public'],
    pairwiseIdentifier: (_ctx, accountId, pairwiseClient) =>
      createHash('sha256').update(`${String(pairwiseClient.sectorIdentifier ?? pairwiseClient.clientId)}:${accountId}`).digest('hex'),
    findAccount: (_ctx, id) => {
      const person = persons.get(id);
      return person ? { accountId: id, claims: () => ({ sub: id, ...person.claims }) } : undefined;
    },
    features: {
      devInteractions: { enabled: false },
      jwtUserinfo: { enabled: Boolean(features.jwtUserinfo) },
      encryption: { enabled: Boolean(features.encryption) },
      requestObjects: { enabled: Boolean(features.requestObjects) },
      resourceIndicators: { enabled: false },
    },
    enabledJWA: {
      idTokenEncryptionAlgValues: ['RSA-OAEP', 'RSA-OAEP-256'],
      idTokenEncryptionEncValues: ['A128CBC-HS256', 'A256GCM'],
      userinfoEncryptionAlgValues: ['RSA-OAEP', 'RSA-OAEP-256'],
      userinfoEncryptionEncValues: ['A128CBC-HS256', 'A256GCM'],
    },
    interactions: { policy: alwaysAsk(), url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      if (!oidc.session?.accountId || !oidc.client || typeof oidc.params?.scope !== 'string') return undefined;
      const grant = new oidc.provider.Grant({ accountId: oidc.session.accountId, clientId: oidc.client.clientId });
      grant.addOIDCScope(oidc.params.scope);
      await grant.save();
      return grant;
    },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
    // What the request was refused for is oidc-provider's English, for developers: the person gets plain words, the code, and the way back.
    renderError: (ctx, out) => {
      showEnd(ctx, (t) => `<p>${escapeHtml(t('failed'))}</p><p class="message">${escapeHtml(t('code'))}: <code>${escapeHtml(String(out.error))}</code></p>`);
    },
  };
  /**
   * The login this browser was last shown a page of here, by its state: a page that cannot go on
   * leads back to it at the broker. Named by the port, as browsers share cookies across ports and
   * every upstream simulator has one.
   */
  const stateCookie = `_upstream_state_${port}`;

  /** Shows the page where the login cannot go on here, in the person's language, with the way back to the broker (backToBroker). */
  const showEnd = (ctx: Koa.Context, body: (t: Translate) => string) => {
    ctx.type = 'html';
    ctx.body = page(texts, loginLanguage(ctx), undefined, (t) => body(t) + backToBroker(client.redirect_uris![0]!, { state: ctx.cookies.get(stateCookie, { signed: false }), iss: issuer }, t('back')));
  };

  // A rotation replaces the provider by one with the new keys; logins in progress go on, held in the same storage.
  const providerWith = (keys: { keys: JWK[] }) => new Provider(issuer, { ...configuration, jwks: keys as never });
  let provider = providerWith(signing);
  let providerRoutes = mount(provider as unknown as Koa);

  app.use(simulatorStylesheetStep());
  // Faults come first, so they apply to the provider's own routes.
  app.use(async (ctx, next) => {
    if (ctx.path === '/jwks') jwksRequests += 1;
    if (faults.unavailable || (ctx.path === '/token' && failsThisTime(faults.tokenFailures))) {
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the simulated upstream is down' };
      return;
    }
    if (ctx.path === '/token' && faults.tokenDelayMs) await sleep(faults.tokenDelayMs);
    if (ctx.path === '/token' && faults.tokenAnswer) return ROGUE_TOKEN_ANSWERS[faults.tokenAnswer](ctx);
    if (ctx.path === '/jwks' && faults.jwksUnreachable) {
      ctx.respond = false;
      ctx.socket.resetAndDestroy();
      return;
    }
    if (ctx.path === '/jwks' && faults.jwksDelayMs) await sleep(faults.jwksDelayMs);
    if (ctx.path === '/jwks' && faults.foreignSigningKeys) {
      ctx.body = { keys: foreignJwks.keys.map(publicHalf) };
      return;
    }
    if (ctx.path === '/auth' && typeof ctx.query.request === 'string' && !ctx.query.client_id && definition.requestOnly) {
      // An upstream that takes `request` alone finds the client in it; oidc-provider wants client_id beside it.
      ctx.query = { ...ctx.query, client_id: String(decodeJwt(ctx.query.request).client_id) };
    }
    if (ctx.path === '/auth' && faults.replaceNonce && ctx.query.nonce) ctx.query = { ...ctx.query, nonce: faults.replaceNonce };
    const forgery = faults.idToken ?? (faults.issuedAtAheadSeconds ? issuedAhead(faults.issuedAtAheadSeconds) : undefined);
    const forgeryKeys = { published: signing.keys[0]!, unpublished: foreignJwks.keys[0]! };
    if (ctx.path === '/me' && faults.userinfoAnswer) {
      ctx.status = faults.userinfoAnswer.status;
      ctx.type = faults.userinfoAnswer.contentType;
      ctx.body = faults.userinfoAnswer.body;
      return;
    }
    if (ctx.path === '/me' && faults.userinfoSigning) {
      await next();
      return resignUserinfo(ctx, forgeryKeys, faults.userinfoSigning);
    }
    if (ctx.path === '/token' && (forgery || faults.tokenResponsePaddingBytes || faults.tokenResponseChunked)) {
      await next();
      if (forgery) await reissueIdToken(ctx, forgeryKeys, forgery);
      if (faults.tokenResponsePaddingBytes) Object.assign(ctx.body as object, { padding: 'x'.repeat(faults.tokenResponsePaddingBytes) });
      if (faults.tokenResponseChunked) ctx.body = Readable.from([JSON.stringify(ctx.body)]);
      return;
    }
    if (ctx.path === '/auth' || ctx.path.startsWith('/auth/')) {
      // Every authorization, to its resume, runs on a fresh session, so a second person on the
      // same browser is simply asked, with no scripted logout of the first one in between.
      const cookies = ctx.get('cookie').split(/;\s*/).filter((cookie) => cookie && !cookie.startsWith(`${SESSION_COOKIE}`));
      ctx.request.headers.cookie = cookies.join('; ');
    }
    await next();
  });

  app.use(async (ctx, next) => {
    const match = /^\/interaction\/([^/]+)(\/login|\/cancel)?$/.exec(ctx.path);
    if (!match) return next();
    // As the broker's pages: Back asks again. A page kept by the browser showed its test persons
    // after the login had ended (Back after Cancel), and a person chosen there got the page saying
    // it was over.
    ctx.set('cache-control', 'no-store');
    const details = await interactionOf(provider, ctx);
    if (!details) {
      ctx.status = 400;
      showEnd(ctx, (t) => `<p>${escapeHtml(t('over'))}</p>`);
      return;
    }
    if (ctx.method === 'GET' && !match[2]) {
      const buttons = (t: Translate) => definition.persons
        .map((person) => `<form method="post" action="/interaction/${details.uid}/login"><input type="hidden" name="person" value="${escapeHtml(person.accountId)}"><button type="submit">${escapeHtml(personShown(person, t))}</button></form>`)
        .join('\n');
      const asked = languageAsked(ctx, details.params);
      ctx.cookies.set(LANGUAGE_COOKIE, texts.localeOf(asked), { httpOnly: true, sameSite: 'lax', signed: false, overwrite: true });
      if (typeof details.params.state === 'string') ctx.cookies.set(stateCookie, details.params.state, { httpOnly: true, sameSite: 'lax', signed: false, overwrite: true });
      ctx.type = 'html';
      ctx.body = page(texts, asked, `/interaction/${details.uid}`, (t) =>
        `<p>${escapeHtml(t('intro'))}</p>${buttons(t)}<form method="post" action="/interaction/${details.uid}/cancel"><button type="submit" class="secondary">${escapeHtml(t('cancel'))}</button></form>`,
      );
      return;
    }
    if (ctx.method !== 'POST') return next();
    if (match[2] === '/cancel') {
      await provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: definition.cancelDescription ?? 'the person cancelled' }, { mergeWithLastSubmission: false });
      ctx.respond = false;
      return;
    }
    const body = new URLSearchParams(await new Promise<string>((resolve) => {
      let text = '';
      ctx.req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      ctx.req.on('end', () => resolve(text));
    }));
    const person = persons.get(body.get('person') ?? '');
    if (!person) {
      // A changed form: said as the simulator's refusal, with the way back.
      ctx.status = 400;
      showEnd(ctx, (t) => `<p>${escapeHtml(t('failed'))}</p>`);
      return;
    }
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId: person.accountId, acr: definition.acrFor(details.params, person), amr: definition.amr } },
      { mergeWithLastSubmission: false },
    );
    ctx.respond = false;
  });

  app.keys = cookieKeys;
  app.use((ctx, next) => providerRoutes(ctx, next));
  server.on('request', app.callback());

  return {
    issuer,
    faults,
    get jwksRequests() {
      return jwksRequests;
    },
    async rotateSigningKey({ sameKid = false } = {}) {
      const [fresh] = (await signingJwks()).keys;
      signing = { keys: [{ ...fresh!, ...(sameKid ? { kid: signing.keys[0]!.kid } : {}) }] };
      provider = providerWith(signing);
      providerRoutes = mount(provider as unknown as Koa);
    },
    async close() {
      await stopServer(server);
      await storage.close();
    },
  };
}

/**
 * The login a page of the simulator belongs to, or undefined when it is over: finished, cancelled
 * or expired, and the person came Back to its page (oidc-provider's interaction is gone then).
 */
async function interactionOf(provider: Provider, ctx: Koa.Context) {
  try {
    return await provider.interactionDetails(ctx.req, ctx.res);
  } catch (error) {
    if (error instanceof errors.SessionNotFound) return undefined;
    throw error;
  }
}

/**
 * The language of the last login page this browser was shown here, for the pages shown once the
 * login is gone (its ui_locales with it): the page saying it is over was in the browser's
 * language, where the login's had been in the person's.
 */
const LANGUAGE_COOKIE = '_upstream_lang';

/** A page's own language link, else the language of the login page shown last, then the browser's. */
function loginLanguage(ctx: Koa.Context): LanguageAsked {
  return { lang: typeof ctx.query.lang === 'string' ? ctx.query.lang : ctx.cookies.get(LANGUAGE_COOKIE, { signed: false }), acceptLanguage: ctx.get('accept-language') };
}

/**
 * The person's pick on the page (`?lang=`), then the authorization request's ui_locales (or the
 * `language` MitID brokers take instead), then the browser's.
 */
function languageAsked(ctx: Koa.Context, params: Record<string, unknown>): LanguageAsked {
  const asked = params.ui_locales ?? params.language;
  return {
    lang: typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined,
    uiLocales: typeof asked === 'string' ? asked : undefined,
    acceptLanguage: ctx.get('accept-language'),
  };
}

/** Whether this call is one of those the failure pattern fails; counts the call. */
function failsThisTime(failures: SimulatorFaults['tokenFailures']): boolean {
  if (!failures || failures.pattern.length === 0) return false;
  const fails = failures.pattern[failures.next % failures.pattern.length]!;
  failures.next += 1;
  return fails;
}
