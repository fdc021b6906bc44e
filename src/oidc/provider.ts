import Provider, { errors, interactionPolicy, type AdapterPayload, type ClientMetadata, type Configuration, type ErrorOut, type KoaContextWithOIDC, type SigningAlgorithm } from 'oidc-provider';
import type { JWK } from 'jose';
import type { BrokerConfig, ClientConfig } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { ErrorPage, Views } from '../http/views.js';
import { retryAfterUnavailable } from '../http/errors.js';
import { MAX_JSON_DEPTH, nestedDeeperThan, tooLongDescription, tooLongParameter } from '../http/parameters.js';
import { INITIAL_ACCESS_TOKEN_MAX_SECONDS, type InitialAccessTokens } from '../clients/initial-access-tokens.js';
import { markOpenRegistration } from '../clients/open-registration.js';
import { applyRegistrationDefaults, keepSubjectsOnUpdate, refuseEncryption, registrationFeatures } from '../clients/registration.js';
import type { ClientRules } from '../clients/rules.js';
import { extraMetadataOf } from '../clients/static.js';
import { tokenEndpointAuthMethods } from '../clients/metadata.js';
import { supportedLocales } from '../http/locale.js';
import { isProductionConfiguration } from '../config/environment.js';
import { afterEndpoints } from './after-endpoints.js';
import { ownFormPostPage } from './form-post-page.js';
import { leavingAfterLogout, leavingPage } from './leaving-page.js';
import { loggedOutPageNamesClient, logoutRequestShown, wayBackAfterLogout } from './logout-page.js';
import { publishedDocumentCaching } from './published-documents.js';
import { uncachedAnswers } from './uncached-answers.js';
import { clientScriptOrigins } from './script-origins.js';
import { frontChannelLogout } from './frontchannel-logout.js';
import { offlineAccessHeld } from './refresh-scope.js';
import { logoutRevocation } from './logout-revocation.js';
import { browserSessions } from './browser-sessions.js';
import { sessionChangesHands } from './session-change-of-hands.js';
import { loggedOutMeanwhile, retryOfLogout } from './logout-confirmation.js';
import { LOGOUT_LANGUAGE, languageOfAnswer, languageOfLoggedOutPage, logoutLanguage } from './logout-language.js';
import { refuseTooDeepInput } from './too-deep-input.js';
import { describeProviderErrors } from './error-descriptions.js';
import type { ClientStore } from '../clients/store.js';
import { StoreAdapter } from './adapter.js';
import { FormerKeyNames, type KeyNames } from '../store/key-names.js';
import { currentRequest } from './current-request.js';
import type { Redemptions } from './redemptions.js';
import { timeBoxedFetch } from './outbound-fetch.js';
import { claimsByScope } from './claims.js';
import type { Accounts } from './accounts.js';
import type { Subjects } from './subject.js';
import { richAuthorizationRequests, transactionResource, type AuthorizationDetailsTypes } from './authorization-details.js';
import type { Backchannel } from './ciba.js';
import { CIBA_GRANT_TYPE } from './grant-types.js';
import { namedPersonCheck, type SubjectOf } from './named-person.js';
import { clientJwtLifetime } from './client-jwt-lifetime.js';
import { returnsOnlyToRegisteredRedirects } from './registered-redirect.js';
import { otherAuthorizationSchemesUnauthenticated } from './other-authorization-schemes.js';
import { clientAuthenticationErrors } from './client-authentication-errors.js';
import { begunMarkCleared } from '../login/begun-mark.js';

export interface ProviderDependencies {
  config: BrokerConfig;
  issuer: string;
  store: Store;
  signingKeys: JWK[];
  cookieKeys: string[];
  accounts: Accounts;
  subjects: Subjects;
  /** Every acr value some configured eID serves. */
  acrValues: string[];
  /** The RFC 9396 authorization_details types the configured eIDs serve, with their schemas. */
  authorizationDetailsTypes: AuthorizationDetailsTypes;
  views: Views;
  /** The rules every client keeps, and the fields the broker and its eIDs add to OIDC's metadata. */
  clientRules: ClientRules;
  /** Where clients registered at runtime (admin API, dynamic registration) live. */
  clientStore: ClientStore;
  /** What each token request consumed, given back when the store fails it. */
  redemptions: Redemptions;
  /** The names in the store of records whose ids are credentials (tokens, codes, sessions). */
  keyNames: KeyNames;
  /** When the first instance of a broker with hashed key names started (epoch ms): see FormerKeyNames. */
  keyNamesHashedSince: number;
  /** The admin API's initial access tokens, whose uses registration counts. */
  initialAccessTokens: InitialAccessTokens;
  /** OpenID Connect CIBA, for clients registered for it. */
  backchannel: Backchannel;
  /** Where a login that needs the person goes from /auth (the login routes decide). */
  interactionUrl: NonNullable<Configuration['interactions']>['url'];
  /** Seconds a login lives at most: ttl.interaction, and the time an eID started within it may still take (LoginLifetime.whole). */
  loginTtl: number;
}

/** Turns a configured client into oidc-provider metadata. */
export function clientMetadata(client: ClientConfig): ClientMetadata {
  return {
    client_id: client.client_id,
    ...(client.client_secret ? { client_secret: client.client_secret } : {}),
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris,
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? (client.client_secret ? 'client_secret_basic' : 'none'),
    application_type: client.application_type,
    subject_type: client.subject_type,
    id_token_signed_response_alg: client.id_token_signed_response_alg,
    grant_types: [
      'authorization_code',
      ...(client.refresh_tokens ? ['refresh_token'] : []),
      ...(client.backchannel_token_delivery_mode ? [CIBA_GRANT_TYPE] : []),
    ],
    response_types: ['code'],
    ...(client.jwks_uri ? { jwks_uri: client.jwks_uri } : {}),
    ...(client.allowed_eids ? { allowed_eids: client.allowed_eids } : {}),
    // An empty name is the client's to be told about (the rules refuse it), not to be dropped for client_id.
    ...(client.display_name !== undefined ? { display_name: client.display_name } : {}),
    ...(client.resource_server ? { resource_server: true } : {}),
    ...(client.authorization_details_types ? { authorization_details_types: client.authorization_details_types } : {}),
    ...extraMetadataOf(client),
  };
}

/**
 * Whether the browser still has a logged-in session: on the page after the logout's question, the
 * person answered "No, stay logged in" (oidc-provider sends that answer there too, without a
 * post_logout_redirect_uri), or came to its address without logging out.
 */
async function stillLoggedIn(ctx: KoaContextWithOIDC): Promise<boolean> {
  return Boolean((await ctx.oidc.provider.Session.get(ctx)).accountId);
}

/** Whether a request is an RP-initiated logout's (its page, its confirmation, its end), not a login's. */
function isLogout(ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc?.route?.startsWith('end_session') === true;
}

/**
 * What the error page of oidc-provider's `error` says. A login's return (`/auth/<uid>`) whose
 * interaction is gone — it expired, or the store lost it — is the expired login it is, with the
 * way to start again, not a request of the client's to complain about.
 */
function pageOfError(ctx: KoaContextWithOIDC, code: string, error: Error): { error: string } & ErrorPage {
  if (isLogout(ctx)) return { error: code, during: 'logout', retry: retryOfLogout(ctx) };
  return { error: error instanceof errors.SessionNotFound ? 'session_expired' : code };
}

/**
 * The routes of oidc-provider a browser is sent to: their errors are pages in plain words. Every
 * other endpoint is called by a client's backend, and its errors are JSON (RFC 6749 §5.2) whatever
 * the request's Accept prefers — oidc-provider renders the page for any request that prefers HTML,
 * which no client could read, and which the broker's steps after an endpoint (CIBA's) expect to be
 * an object.
 */
const PAGE_ROUTES: ReadonlySet<string> = new Set(['authorization', 'resume', 'end_session', 'end_session_confirm', 'end_session_success']);

/**
 * An error of oidc-provider's: a page at the routes a browser is sent to, else `out` as JSON; a
 * 503 with Retry-After either way, for the page's Try again to count down.
 */
function providerError(views: Views) {
  return async (ctx: KoaContextWithOIDC, out: ErrorOut, error: Error): Promise<void> => {
    retryAfterUnavailable(ctx);
    if (!PAGE_ROUTES.has(ctx.oidc?.route ?? '')) {
      ctx.body = out;
      return;
    }
    if (loggedOutMeanwhile(ctx, String(out.error))) return showLoggedOut(ctx, views);
    views.renderError(ctx, pageOfError(ctx, String(out.error), error));
  };
}

/** The logged-out page, for an answer to the logout's question that came once the session had ended; its language links lead to the logged-out page by GET. */
function showLoggedOut(ctx: KoaContextWithOIDC, views: Views): void {
  languageOfAnswer(ctx);
  ctx.status = 200;
  views.render(ctx, 'logged-out', { stillLoggedIn: false, again: { path: new URL(ctx.oidc.urlFor('end_session_success')).pathname } });
}

/** A login check that always asks, unless this very request is the return from a login. */
export function loginEveryTime() {
  const { Check } = interactionPolicy;
  return new Check('login_every_time', 'every authorization request logs the person in anew', 'login_required', (ctx: KoaContextWithOIDC) =>
    ctx.oidc.result?.login ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT,
  );
}

/**
 * The login prompt fires on every authorization request that has not just finished an eID
 * login: the broker never reuses an earlier login, so a shared computer never logs the next
 * person in as the previous one. prompt=none therefore always answers login_required. Once the
 * eID login is done, a request that named the person gets a code only if it is them.
 */
function loginPolicy(subjectOf: SubjectOf) {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  login.checks.add(loginEveryTime(), 0);
  login.checks.add(namedPersonCheck(subjectOf), 1);
  // Consent is given by registering the client, so neither prompt=consent (which OIDC asks
  // for with offline_access) nor a native app needs a consent screen: the eID login every
  // request runs is the End-User interaction.
  const consent = policy.get('consent')!;
  consent.checks.remove('consent_prompt');
  consent.checks.remove('native_client_prompt');
  // Likewise for authorization_details: the person consents to a signature or a payment by
  // making it in the eID, on a page that shows what they sign (README, Signing and payments).
  consent.checks.remove('rar_prompt');
  policy.add(selectAccountPrompt());
  return policy;
}

/**
 * prompt=select_account (OIDC Core §3.1.2.1: the person chooses among their accounts) is taken,
 * rather than refused as a value oidc-provider does not know: every login runs the eID, where the
 * person says who they are, so each one is that choice. The prompt has no check of its own, so it
 * never asks for more than the login does.
 */
function selectAccountPrompt() {
  const prompt = new interactionPolicy.Prompt({ name: 'select_account', requestable: true });
  prompt.checks.remove('select_account_prompt');
  return prompt;
}

/**
 * The shape of every S256 code_challenge (RFC 7636 §4.2): BASE64URL(SHA256(code_verifier)), 32
 * bytes in 43 characters, the last of which carries 4 bits.
 */
const S256_CHALLENGE = /^[\w-]{42}[AEIMQUYcgkosw048]$/;

/**
 * Refuses an S256 code_challenge that no code_verifier can match. oidc-provider checks a
 * challenge only against the verifier's rules (43 to 128 unreserved characters), so one of 44 or
 * 128 characters was taken: the person identified, and the code could never be redeemed. As a
 * validator of oidc-provider's extra parameters it runs after oidc-provider's own PKCE checks, at
 * the authorization endpoint and at PAR (whose request is checked as the authorization
 * endpoint checks it, RFC 9126 §2.1), on the parameters of a request object or a pushed request too.
 */
function matchableChallenge(ctx: KoaContextWithOIDC, value: string | undefined): void {
  if (ctx.oidc.params?.code_challenge_method === 'S256' && typeof value === 'string' && !S256_CHALLENGE.test(value)) {
    throw new errors.InvalidRequest('code_challenge is not a base64url-encoded SHA-256 digest (43 characters), so no code_verifier can match it');
  }
}

/**
 * The lifetime of a new interaction, which oidc-provider asks for just before it stores the
 * request's parameters: the last point at which those of a pushed request (PAR), which never
 * passed through a query, can be refused as too long.
 */
function boundedInteraction(ctx: KoaContextWithOIDC, ttl: number): number {
  const tooLong = tooLongParameter(ctx.oidc.params ?? {});
  if (tooLong) throw new errors.InvalidRequest(tooLongDescription(tooLong));
  return ttl;
}

/**
 * Who learns about a token at the introspection endpoint: the client it was issued to, or a
 * resource server the operator named (client metadata `resource_server`). Anyone else is told
 * `{active: false}`, as for a token that does not exist, so that no client learns another
 * client's `sub`s. So is a resource server asking about a token whose client was deleted since:
 * a deleted client's tokens are refused everywhere, and oidc-provider, which reads the token's
 * client for its subject type, answered 500 when the client was gone.
 */
async function ownTokenOrResourceServer(ctx: KoaContextWithOIDC, client: { clientId: string; metadata(): ClientMetadata }, token: { clientId?: string | undefined }): Promise<boolean> {
  if (token.clientId === client.clientId) return true;
  return client.metadata().resource_server === true && token.clientId !== undefined && Boolean(await ctx.oidc.provider.Client.find(token.clientId));
}

/**
 * The broker has no consent screen: a registered client is trusted to ask for what it needs,
 * so each login gets a new grant of exactly the scopes it requested. The grant lives as long as
 * a refresh token can (ttl.Grant), because oidc-provider never extends a grant by itself.
 */
async function grantRequestedScopes(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const accountId = oidc.session?.accountId;
  if (!accountId || !oidc.client || typeof oidc.params?.scope !== 'string') return undefined;
  const grant = new oidc.provider.Grant({ accountId, clientId: oidc.client.clientId });
  grant.addOIDCScope(oidc.params.scope);
  // Claims asked for one by one (the claims parameter, e.g. age_over_18 alone) are granted too.
  grant.addOIDCClaims([...oidc.requestParamClaims]);
  await grant.save();
  return grant;
}

/**
 * A refresh token goes to a client with the refresh_token grant that either asked for offline
 * access with prompt=consent (OIDC Core §11; oidc-provider drops offline_access from a request
 * without prompt=consent) or that the operator registered with refresh_tokens_without_consent:
 * the broker has no consent screen, so for such a client the registration is the consent.
 */
const issueRefreshToken: NonNullable<Configuration['issueRefreshToken']> = (_ctx, client, code) =>
  client.grantTypeAllowed('refresh_token') && (code.scopes.has('offline_access') || client['refresh_tokens_without_consent'] === true);

/**
 * The algorithms a client may sign its client_secret_jwt or private_key_jwt assertion with (those
 * of oidc-provider's default). oidc-provider takes this one list at the token, revocation and
 * introspection endpoints alike, and publishes it for the token endpoint only.
 */
const CLIENT_ASSERTION_ALGS: readonly SigningAlgorithm[] = ['HS256', 'RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'];

/**
 * The prompt values an authorization request may carry (prompt_values_supported, defined by
 * Initiating User Registration via OpenID Connect), which oidc-provider does not publish: none,
 * and each prompt of the policy a client may ask for (not create: there is no account to make). A relying party that reads them before it sends one (select_account)
 * learns that the broker takes it.
 */
function promptValues(policy: interactionPolicy.DefaultPolicy): string[] {
  return ['none', ...policy.filter((prompt) => prompt.requestable).map((prompt) => prompt.name)];
}

/**
 * Discovery metadata oidc-provider does not write by itself. Claim values are not translated
 * (names as the eID gives them, codes and dates), so they serve every language the pages do.
 * Revocation and introspection take the same client authentication as the token endpoint, and
 * since that includes client_secret_jwt and private_key_jwt, RFC 8414 §2 requires the signing
 * algorithms to be listed beside the methods.
 */
function discoveryExtras(policy: interactionPolicy.DefaultPolicy): Record<string, unknown> {
  return {
    prompt_values_supported: promptValues(policy),
    ui_locales_supported: [...supportedLocales],
    claims_locales_supported: [...supportedLocales],
    revocation_endpoint_auth_methods_supported: [...tokenEndpointAuthMethods],
    revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    introspection_endpoint_auth_methods_supported: [...tokenEndpointAuthMethods],
    introspection_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    // Built by the broker (frontchannel-logout.ts); oidc-provider writes the back-channel ones.
    frontchannel_logout_supported: true,
    frontchannel_logout_session_supported: true,
  };
}

/**
 * The largest client documents oidc-provider reads (bytes). A JWKS or a sector's list of
 * redirect URIs is a few kilobytes; oidc-provider's default reads these two without a limit, so
 * a registering client could make the broker hold whatever its server streams in the time box.
 */
const CLIENT_DOCUMENT_LIMITS = { jwks_uri: 256 * 1024, sector_identifier_uri: 256 * 1024, 'client_id metadata document': 5 * 1024 };

/**
 * oidc-provider's cookie names. Its session cookie is for the whole site (path /, no Domain), as
 * the broker's own are (siteCookieName): over an https issuer it is `__Host-session`, which a
 * browser takes only from the broker's own host, so a page on a sibling subdomain cannot plant a
 * session of its choosing for the whole domain (a browser it logged in, or one beside a login in
 * progress, whose return oidc-provider then refuses as another session's). Every request is taken
 * as the issuer's (Secure exactly when it is https), so the name follows the issuer. The
 * interaction cookies are kept under each login's own path, which the prefix does not allow.
 */
function sessionCookieNames(issuer: string): NonNullable<Configuration['cookies']>['names'] {
  const session = new URL(issuer).protocol === 'https:' ? '__Host-session' : '_session';
  return { session, interaction: '_interaction', resume: '_interaction_resume' };
}

/**
 * oidc-provider's own requests (a client's jwks_uri, sector_identifier_uri, backchannel_logout_uri)
 * refuse loopback and private addresses. Outside production they may reach this machine, where
 * relying parties under development run; in production the guard stays.
 */
function outgoingFetch(issuer: string): Configuration['fetch'] {
  if (isProductionConfiguration(issuer)) return timeBoxedFetch;
  return (url, options) => {
    const withoutGuard: RequestInit & { dispatcher?: unknown } = { ...options };
    delete withoutGuard.dispatcher;
    return timeBoxedFetch(url, withoutGuard);
  };
}

/** Whether a claims request asks for an acr by value(s) anywhere in it (verified_claims nests claims). */
function demandsAcr(claims: unknown): boolean {
  if (typeof claims !== 'object' || claims === null) return false;
  const { acr } = claims as { acr?: unknown };
  if (typeof acr === 'object' && acr !== null && ('value' in acr || 'values' in acr)) return true;
  return Object.values(claims).some(demandsAcr);
}

/**
 * The claims parameter lets a client ask for single claims (age_over_18 without the birth date).
 * The eID is chosen with acr_values only: an acr demanded there would send the person round the
 * login again and again, since the broker runs the eID the acr_values name. Refused at any depth,
 * it also leaves the acr values oidc-provider writes from acr_values the only `"acr":{"values":`
 * of a code or token, which the search for a claims request by value (store/keys.ts) passes over.
 * Nesting is bounded (MAX_JSON_DEPTH), or oidc-provider's recursive copies of it overflow the stack.
 */
const claimsParameter: NonNullable<NonNullable<Configuration['features']>['claimsParameter']> = {
  enabled: true,
  assertClaimsParameter(_ctx, claims) {
    if (nestedDeeperThan(claims, MAX_JSON_DEPTH)) throw new errors.InvalidRequest(`claims: nested more than ${MAX_JSON_DEPTH} levels deep`);
    if (demandsAcr(claims)) throw new errors.InvalidRequest('claims: choose the eID and its level with acr_values, not with an acr value in the claims parameter');
  },
};

/**
 * What is read together with a model's record, by model: a refresh grant reads the refresh
 * token, then its grant, then its account; the account is asked for as soon as the token names
 * it, so that it goes to Redis with the grant, in one round trip. The refresh token, once read,
 * also says whether a refresh asking for offline_access asks for what it already is (refresh-scope.ts).
 */
const readAlongside: Record<string, (deps: ProviderDependencies) => (payload: AdapterPayload) => void> = {
  RefreshToken: (deps) => (payload) => {
    const request = currentRequest() as KoaContextWithOIDC | undefined;
    // A refresh grant goes on to the account; introspection and revocation of a refresh token do not.
    if (request?.oidc?.route === 'token' && typeof payload.accountId === 'string') deps.accounts.readAhead(request, payload.accountId);
    offlineAccessHeld(request, payload);
  },
};

/**
 * Seconds a model's record is kept in the store after it expires, so that a late use meets the
 * expired record (oidc-provider's own answer to it) rather than none. A CIBA request the client
 * polls just after it ran out answers expired_token (CIBA §11), not invalid_grant as for an
 * auth_req_id that never was. A pushed request (RFC 9126) may be used for 60 seconds, but the
 * logins begun with it last as long as an interaction may: the mark that one of them got the
 * code, by which the others are refused (its one-time use), must last as long.
 */
function keptAfterExpiry(loginTtl: number): Record<string, number> {
  return { BackchannelAuthenticationRequest: 300, PushedAuthorizationRequest: loginTtl };
}

/** Seconds a pushed authorization request may be used (RFC 9126 §2.2: short). */
const PUSHED_REQUEST_TTL = 60;

/**
 * The longest a record of each model whose id is a credential lives in the store, in seconds,
 * what it is kept past its expiry included: how long after hashed key names began a record
 * written under its id may still be found (FormerKeyNames). Device codes and client credentials
 * are not on (those features are off). A registration access token never expires: it lives
 * until the client's next use of it replaces it (rotateRegistrationAccessToken).
 */
function credentialLifetimes(config: BrokerConfig, loginTtl: number): Record<string, number> {
  const kept = keptAfterExpiry(loginTtl);
  return {
    AccessToken: config.ttl.access_token,
    AuthorizationCode: config.ttl.authorization_code,
    RefreshToken: config.ttl.refresh_token,
    Session: config.ttl.session,
    BackchannelAuthenticationRequest: config.ciba.expires_in + kept.BackchannelAuthenticationRequest!,
    PushedAuthorizationRequest: PUSHED_REQUEST_TTL + kept.PushedAuthorizationRequest!,
    InitialAccessToken: INITIAL_ACCESS_TOKEN_MAX_SECONDS,
    RegistrationAccessToken: Number.POSITIVE_INFINITY,
  };
}

export function createProvider(deps: ProviderDependencies): Provider {
  const { config, store, views } = deps;
  const pairwiseSubject: SubjectOf = (accountId, client) => deps.subjects.pairwise(accountId, String(client.sectorIdentifier ?? client.clientId));
  const kept = keptAfterExpiry(deps.loginTtl);
  const policy = loginPolicy((accountId, client) => (client.subjectType === 'pairwise' ? pairwiseSubject(accountId, client) : accountId));
  const formerKeys = new FormerKeyNames(deps.keyNamesHashedSince, credentialLifetimes(config, deps.loginTtl));
  const adapterOf = (model: string) =>
    new StoreAdapter(model, store, deps.keyNames, { redemptions: deps.redemptions, found: readAlongside[model]?.(deps), keptAfterExpiry: kept[model], formerKeys });
  const configuration: Configuration = {
    adapter: (model: string) => (model === 'Client' ? deps.clientStore : adapterOf(model)),
    clients: config.clients.map(clientMetadata),
    extraClientMetadata: {
      properties: deps.clientRules.extraFields,
      validator(ctx, key, value, metadata) {
        if (key === deps.clientRules.extraFields[0]) {
          refuseEncryption(ctx);
          applyRegistrationDefaults(ctx, metadata as Record<string, unknown>);
          markOpenRegistration(ctx, metadata as Record<string, unknown>, config.registration.initial_access_token === false);
          keepSubjectsOnUpdate(ctx, metadata as Record<string, unknown>);
        }
        deps.clientRules.validator(ctx, key, value, metadata);
      },
    },
    jwks: { keys: deps.signingKeys as never },
    clientBasedCORS: clientScriptOrigins,
    cookies: {
      keys: deps.cookieKeys,
      names: sessionCookieNames(deps.issuer),
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    findAccount: deps.backchannel.findAccount(deps.accounts.findAccount),
    extraParams: { call_initiator: deps.backchannel.callInitiatorParameter, code_challenge: matchableChallenge },
    scopes: ['openid', 'offline_access', ...Object.keys(claimsByScope).filter((s) => s !== 'openid')],
    claims: { ...claimsByScope, sid: null } as unknown as Configuration['claims'],
    acrValues: deps.acrValues,
    // Scope claims go in the ID token too, not only in userinfo: many clients read only the ID token.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    allowOmittingSingleRegisteredRedirectUri: false,
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: (_ctx, accountId, client) => pairwiseSubject(accountId, client),
    // What a client registered at /reg gets for what it leaves out; static clients and those of the
    // admin API have every field set already (ID tokens in ES256 unless the operator says RS256).
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // OIDC Dynamic Client Registration §2: RS256 when the client does not say.
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256'],
      userinfoSigningAlgValues: ['ES256', 'RS256'],
      introspectionSigningAlgValues: ['ES256', 'RS256'],
      clientAuthSigningAlgValues: CLIENT_ASSERTION_ALGS,
    },
    assertJwtClientAuthClaimsAndHeader: clientJwtLifetime.assertJwtClientAuthClaimsAndHeader,
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true, allowedPolicy: ownTokenOrResourceServer },
      backchannelLogout: { enabled: true },
      ciba: deps.backchannel.feature(),
      claimsParameter,
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      pushedAuthorizationRequests: { enabled: true },
      // Signed request objects (RFC 9101), one of the two ways authorization_details may come.
      requestObjects: { enabled: true, assertJwtClaimsAndHeader: clientJwtLifetime.assertJwtClaimsAndHeader },
      richAuthorizationRequests: richAuthorizationRequests(deps.authorizationDetailsTypes),
      resourceIndicators: deps.authorizationDetailsTypes.size > 0 ? transactionResource() : { enabled: false },
      userinfo: { enabled: true },
      // Userinfo as a JWT signed for a client registered with userinfo_signed_response_alg (OIDC Core §5.3.2).
      jwtUserinfo: { enabled: true },
      ...registrationFeatures(config.registration, deps.initialAccessTokens),
      rpInitiatedLogout: {
        enabled: true,
        // Always drawn for a GET (a POST is sent on as one: posted-requests.ts), its language links
        // carry the query the browser sent: a form POSTed still sealed. Its form also posts the
        // page's language, that of the pages after the answer (logout-language.ts).
        logoutSource: async (ctx, form) => views.render(ctx, 'logout', { form, languageField: LOGOUT_LANGUAGE, ...logoutRequestShown(ctx, views) }),
        // oidc-provider sends "No, stay logged in" to this page too: it then says the person is still logged in.
        postLogoutSuccessSource: async (ctx) => {
          languageOfLoggedOutPage(ctx);
          views.render(ctx, 'logged-out', { stillLoggedIn: await stillLoggedIn(ctx), ...wayBackAfterLogout(ctx, views) });
        },
      },
    },
    interactions: {
      policy,
      url: deps.interactionUrl,
    },
    loadExistingGrant: grantRequestedScopes,
    issueRefreshToken,
    fetch: outgoingFetch(deps.issuer),
    fetchResponseBodyLimits: CLIENT_DOCUMENT_LIMITS,
    ttl: {
      AuthorizationCode: config.ttl.authorization_code,
      AccessToken: config.ttl.access_token,
      IdToken: config.ttl.id_token,
      RefreshToken: config.ttl.refresh_token,
      // The whole of a login's life, an eID started at the end of ttl.interaction included: the
      // interaction and its cookies (_interaction, _interaction_resume) outlive the time to
      // choose an eID, which the login's steps keep (LoginLifetime).
      Interaction: (ctx) => boundedInteraction(ctx, deps.loginTtl),
      // A session without a login (an anonymous logout, an authorization request not finished)
      // lives no longer than a login has to start: such requests cannot buy long-lived state, and
      // a login's return needs none (its interaction names a session only when it has a person).
      Session: (_ctx, session) => (session.accountId ? config.ttl.session : Math.min(config.ttl.session, config.ttl.interaction)),
      Grant: Math.max(config.ttl.refresh_token, config.ttl.session),
      PushedAuthorizationRequest: PUSHED_REQUEST_TTL,
      BackchannelAuthenticationRequest: deps.backchannel.lifetime,
    },
    // Tokens outlive the browser session, so that using one never reads it; a confirmed logout
    // revokes those issued without offline_access all the same (logout-revocation.ts).
    expiresWithSession: async () => false,
    discovery: discoveryExtras(policy),
    renderError: providerError(views),
  };

  const provider = new Provider(deps.issuer, configuration);
  provider.proxy = Boolean(config.trust_proxy);
  deps.redemptions.watch(provider);
  refuseTooDeepInput(provider, views);
  browserSessions(provider, store);
  sessionChangesHands(provider);
  returnsOnlyToRegisteredRedirects(provider);
  describeProviderErrors(provider);
  otherAuthorizationSchemesUnauthenticated(provider);
  // What the broker adds to oidc-provider's answers, by endpoint, in this order.
  afterEndpoints(provider, [
    // Before the front-channel page, which is drawn in that language and goes on to the address they set.
    logoutLanguage(),
    loggedOutPageNamesClient(),
    frontChannelLogout(provider, views),
    logoutRevocation(provider, { grants: new StoreAdapter('Grant', store, deps.keyNames), store, sessionTtlSeconds: config.ttl.session }),
    // After the front-channel page, which a logout without a login never draws (it has no clients to log out).
    leavingAfterLogout(views),
    // Before the leaving page, which answers 400 in place of the error a client anyone registered gets: the login is over all the same.
    begunMarkCleared(),
    // Before the broker's form-post page, which it takes the place of for an error of such a client.
    leavingPage(views),
    ownFormPostPage(views),
    deps.initialAccessTokens.afterRegistration(),
    // Before CIBA's, whose audit of a refused request records the error the client is answered.
    clientAuthenticationErrors(),
    ...deps.backchannel.attach(provider),
    publishedDocumentCaching(),
    uncachedAnswers(),
  ]);
  return provider;
}
