import { hash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Context, Next } from 'koa';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { AuditLog, LoginInfo } from '../audit/audit.js';
import type { EidFailure, EidOutcome, EidPlugin, LoginRequest, LoginState, StartOptions, StartResult } from '../eids/plugin.js';
import type { EidRegistry } from '../eids/registry.js';
import type { EidOperations } from '../eids/telemetry.js';
import { clientNameIn, homePageIn, inLanguage, isWebPage } from '../clients/localized.js';
import { registeredOpenly } from '../clients/open-registration.js';
import { browserId } from '../http/browser-id.js';
import { clientIp } from '../http/client-ip.js';
import { HttpError } from '../http/errors.js';
import { siteCookieName } from '../http/site-cookies.js';
import { knownSignedCookie, signedCookie } from '../http/signed-cookies.js';
import { homeCountryOf } from '../identity/country.js';
import type { ErrorPage, LocaleState, Views } from '../http/views.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { BrokerConfig } from '../config/schema.js';
import type { RateLimiter } from '../resilience/rate-limit.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import { chooseEid, requestedAcr, type EidChoice, type EidOption } from './choose-eid.js';
import { requestedDetails } from '../oidc/authorization-details.js';
import { provenByKnownClient } from '../oidc/proven-parameters.js';
import type { OpenEventStreams } from './event-streams.js';
import { rememberedFor } from './start-input.js';
import { begunCookie } from './begun-mark.js';
import { CheckedInteractions } from './checked-interactions.js';
import { StartedEids } from './started-eids.js';
import { recordResult, type Finisher } from './finish.js';
import type { FormTokens } from './submissions.js';
import { storeKey } from '../store/keys.js';
import { USED_PUSHED_REQUEST, usedPushedRequest } from './used-pushed-request.js';
import { redirectStillRegistered } from '../oidc/registered-redirect.js';
import { choosingOver, type LoginLifetime } from './lifetime.js';

export interface LoginDependencies {
  provider: Provider;
  registry: EidRegistry;
  finish: Finisher;
  views: Views;
  store: Store;
  issuer: string;
  log: Logger;
  /** How long a login has to choose and start an eID, and how long it lives (the broker remembers which eID it uses that long). */
  lifetime: LoginLifetime;
  /** The pages' settings: contact, operator overrides. */
  ui: BrokerConfig['ui'];
  /** Audit events of each login's transitions. */
  audit: AuditLog;
  /** The eid_start rate limits. */
  limiter: RateLimiter;
  /** Each eID's circuit and certificates (`operations.health`, `operations.certificates.warnings()`). */
  operations: EidOperations;
  /** The event streams this instance holds open for waiting logins. */
  eventStreams: OpenEventStreams;
  /** Counts the polls refused while another of their login runs (neb_rate_limited_total). */
  metrics: Metrics;
  /** The per-login tokens of the broker's own forms. */
  formTokens: FormTokens;
  /** Lets a request in flight hold a graceful shutdown for `forMs` from its start (see Drain.hold). */
  holdShutdown(response: ServerResponse, forMs: number): void;
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;
type Client = NonNullable<Awaited<ReturnType<Provider['Client']['find']>>>;

/** Where oidc-provider sends the browser when a login needs the person (its `interactions.url`). */
export type InteractionUrl = (ctx: KoaContextWithOIDC, interaction: Interaction) => Promise<string>;

interface ClientView {
  clientId: string;
  allowedEids?: string[];
  allowedAcrValues?: string[];
  /** false: a failed or cancelled eID ends the login at the client rather than returning to the picker. */
  returnToPicker: boolean;
  /** The client's default_ui_locales, space-separated, for a login without ui_locales. */
  defaultUiLocales?: string | undefined;
  /** The client's whole metadata, for the fields eIDs declare. */
  metadata: Readonly<Record<string, unknown>>;
}

/** What loadInteraction leaves on ctx.state for every route under /interaction/<uid>. */
export interface RouteState extends LoginState, LocaleState {
  interaction: Interaction;
  client: ClientView;
  /** The interaction is this instance's recent copy (CheckedInteractions), not read by this request. */
  interactionKept?: boolean;
  /** The started eID came from this instance's copy (StartedEids), not read by this request. */
  startedEidKept?: boolean;
}

export const routeState = (ctx: Context) => ctx.state as RouteState;

/**
 * The login under way in this browser, as `<uid>:<client_id>`: when its interaction is over (Back
 * after the login finished, or it expired), its pages can still lead the person back to the client,
 * and so can the page of an eID's answer that belongs to no login under way (at /eid/<id>/callback,
 * hence the path /, and so `__Host-` over https like the broker's other whole-site cookies). It
 * was `neb_login`, under /interaction/ only, where that page never saw it.
 */
const LOGIN_COOKIE = 'neb_last_login';


const notStarted = () => new HttpError(409, 'invalid_request', 'No eID has been started for this login yet.');

export const sessionExpired = (page?: ErrorPage) =>
  new HttpError(400, 'session_expired', 'This login has expired or was started in another browser. Start again at the service.', undefined, page);

/** The login's client was deleted while the person was logging in: starting again at the service would not help. */
const clientGone = () => new HttpError(400, 'invalid_client', 'The service this login is for is no longer registered with the broker. Contact the service.');

/**
 * Why an eID sent the person back to the picker, as the picker tells them (`picker.notice.<reason>`)
 * and GET ui reports it.
 */
export type NoticeReason = 'cancelled' | 'expired' | 'unavailable' | 'unmet' | 'failed';

/** What the picker says after an eID failed: which eID, and why. */
export interface PickerNotice {
  eid: string;
  reason: NoticeReason;
}

/** The reason a failure is shown with: the person's own ending first, then what the error says. */
function noticeReason(failure: EidFailure): NoticeReason {
  if (failure.ending) return failure.ending;
  // A requirement of the service the person's login fell short of (a level of assurance below the
  // one asked for: MitID with a password alone). "Did not succeed" left them to try the same way again.
  if (failure.error === 'insufficient_scope') return 'unmet';
  return failure.error === 'server_error' ? 'unavailable' : 'failed';
}

/** An eID as the person knows it, in their language: never its internal id, unless it has no name. */
const eidName = (t: ReturnType<Views['translator']>, id: string) => t(`eid.${id}`, {}, id);
/**
 * An eID's name inside a sentence: the form its texts give for that (`eid_in_text.<id>`), else its
 * name. A name that is no proper name ("Finska bankkoder…") has a capital on its button only.
 */
const eidInText = (t: ReturnType<Views['translator']>, id: string) => t(`eid_in_text.${id}`, {}, eidName(t, id));

/** The person left an eID without an outcome from it (its Cancel, with nothing shown yet). */
const cancelledAtEid: EidFailure = { error: 'access_denied', description: 'The person cancelled the login.', ending: 'cancelled' };
const resultOfCancel = { error: cancelledAtEid.error, error_description: cancelledAtEid.description };

/** A failure no eID produced: the client's request refused, or the person's time spent. */
type Refusal = Omit<EidFailure, 'error'> & { error: string };

/** How a login ends that ran out of time to choose and start an eID (ttl.interaction): the client hears it at its redirect_uri. */
const outOfTime: EidFailure = { error: 'access_denied', description: 'The login expired: no eID was started in the time allowed.', ending: 'expired' };

/** Whether a login's recorded result is the end of one that ran out of time (outOfTime). */
const endedOutOfTime = (result: Interaction['result']) => result?.error === outOfTime.error && result.error_description === outOfTime.description;

/**
 * What a cancel leaves: `eid` — the eID under way (its own page's Cancel), after which the
 * person may choose again; `login` — the whole login, back to the client (the picker's Cancel,
 * the error page's way back).
 */
export type Leaving = 'eid' | 'login';

/** A login request as made for one request (LoginSteps.loginRequest), and what it was made from. */
interface KeptLoginRequest {
  plugin: EidPlugin;
  client: ClientView;
  /** The parts of the request it was made from, joined. */
  from: string;
  request: LoginRequest;
}

/** How many cookies the response sets so far. */
function cookiesSet(ctx: Context): number {
  const set = ctx.response.get('set-cookie') as string | string[];
  return Array.isArray(set) ? set.length : set ? 1 : 0;
}

function acrValuesIn(interaction: Interaction): string | undefined {
  const acrValues = interaction.params.acr_values;
  return typeof acrValues === 'string' ? acrValues : undefined;
}

/**
 * oidc-provider gives the interaction cookie the path of the address it sends the browser to;
 * `path` replaces it for the rest of this request, whatever that address is.
 */
function keepCookiePath(ctx: Context, name: string, path: string): void {
  const { cookies } = ctx;
  const set = cookies.set.bind(cookies);
  cookies.set = (cookie, value, options) => set(cookie, value, cookie === name ? { ...options, path } : options);
}

/**
 * The steps of a login that the broker's pages and the frontend JSON API share: proving a
 * request belongs to a live interaction, choosing the eID, starting it, and ending the login.
 */
export function loginSteps(deps: LoginDependencies) {
  const { provider, registry, views, store, log } = deps;
  const issuerOrigin = new URL(deps.issuer).origin;
  const checked = new CheckedInteractions();
  const startedEids = new StartedEids();
  const clientViews = new WeakMap<Client, ClientView>();
  const keptRequests = new WeakMap<Interaction, KeptLoginRequest>();
  const interactionCookie = provider.cookieName('interaction');

  /**
   * Every route under /interaction/<uid> first proves that the request belongs to a live
   * interaction of this browser: the provider's interaction cookie (SameSite=Lax, so a
   * cross-site form post cannot carry it) must name this uid. Forms and API calls from another
   * origin are refused as well.
   */
  async function loadInteraction(ctx: Context, next: Next) {
    const kept = keptInteraction(ctx);
    const interaction = kept ?? (await readInteraction(ctx));
    if (interaction.uid !== ctx.params.uid || interaction.prompt.name !== 'login') throw await loginOver(ctx);
    // Without its mark the login was begun in another browser, or is over (the mark goes with its return to the client): its page says it is over.
    if (signedCookie(ctx, begunCookie(ctx, interaction.uid)) !== '1') throw await loginOver(ctx);
    if (!kept) checked.keepChecked(interaction);
    if (ctx.method !== 'GET' && !fromOwnPages(ctx)) {
      throw new HttpError(403, 'invalid_request', "The request did not come from the broker's own pages.");
    }
    await enter(ctx, interaction, Boolean(kept));
    await next();
  }

  /** The interaction's client, this browser's login cookie, and what the routes read on ctx.state. */
  async function enter(ctx: Context, interaction: Interaction, kept: boolean): Promise<void> {
    const clientId = String(interaction.params.client_id);
    const client = await provider.Client.find(clientId);
    if (!client) throw clientGone();
    const view = clientViewOf(client);
    rememberLogin(ctx, loginCookieValue(interaction));
    const state = routeState(ctx);
    state.interaction = interaction;
    state.interactionKept = kept;
    state.client = view;
    state.cancelUrl = `/interaction/${interaction.uid}/cancel`;
    state.uiLocales = typeof interaction.params.ui_locales === 'string' ? interaction.params.ui_locales : view.defaultUiLocales;
  }

  /**
   * Takes a request to `uid` that loadInteraction would let through on this instance's copies
   * alone, reading nothing from the store and writing no cookie: the login's interaction is kept
   * here, the interaction cookie names it with a signature that verified here before, the request
   * comes from the broker's own pages, and the login cookie is already this login's. A waiting
   * page's poll is such a request, second after second. Returns false for any other, which then
   * goes the whole way (loadInteraction); a taken request goes on with enterKept.
   */
  function takeKept(ctx: Context, uid: string): boolean {
    const interaction = checked.get(uid);
    if (!interaction || interaction.prompt.name !== 'login') return false;
    if (knownSignedCookie(ctx, interactionCookie) !== uid || !fromOwnPages(ctx)) return false;
    if (knownSignedCookie(ctx, begunCookie(ctx, uid)) !== '1') return false;
    if (ctx.cookies.get(siteCookieName(ctx, LOGIN_COOKIE)) !== encodeURIComponent(loginCookieValue(interaction))) return false;
    ctx.params = { uid };
    routeState(ctx).interaction = interaction;
    return true;
  }

  /** loadInteraction for a request takeKept took: what is left of it once the checks are done. */
  async function enterKept(ctx: Context, next: Next) {
    await enterTaken(ctx);
    await next();
  }

  /** enterKept's step, for a request answered without the app's stack (the kept poll's direct answer). */
  const enterTaken = (ctx: Context): Promise<void> => enter(ctx, routeState(ctx).interaction, true);

  /**
   * The client as the login's steps read it, made once per client object: oidc-provider hands
   * out the same object until the client changes, and its metadata() builds a fresh copy of
   * every field (each name converted to snake_case) at every call, which every request under
   * /interaction/<uid> — a page's poll once a second — would otherwise pay.
   */
  function clientViewOf(client: Client): ClientView {
    let view = clientViews.get(client);
    if (view) return view;
    const metadata = client.metadata() as Record<string, unknown> & {
      allowed_eids?: string[];
      allowed_acr_values?: string[];
      default_ui_locales?: string[];
      return_to_picker?: boolean;
    };
    // The secret goes no further than oidc-provider's own client authentication.
    delete metadata.client_secret;
    view = Object.freeze({
      clientId: client.clientId,
      allowedEids: metadata.allowed_eids,
      allowedAcrValues: metadata.allowed_acr_values,
      returnToPicker: metadata.return_to_picker !== false,
      defaultUiLocales: metadata.default_ui_locales?.join(' '),
      metadata: Object.freeze(metadata),
    });
    clientViews.set(client, view);
    return view;
  }

  /** This instance's recent copy of the login's interaction, when the request's signed interaction cookie names it. */
  function keptInteraction(ctx: Context): Interaction | undefined {
    const uid = String(ctx.params.uid ?? '');
    const kept = checked.get(uid);
    return kept && signedCookie(ctx, interactionCookie) === uid ? kept : undefined;
  }

  async function readInteraction(ctx: Context): Promise<Interaction> {
    try {
      return await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      if (err instanceof errors.SessionNotFound) throw await loginOver(ctx);
      throw err;
    }
  }

  /**
   * The interaction to record a result on: read again when the request checked a kept copy,
   * which may be out of date (see CheckedInteractions). The login ends, so its copy goes.
   */
  async function interactionToEnd(ctx: Context): Promise<Interaction> {
    const { uid } = routeState(ctx).interaction;
    checked.drop(uid);
    startedEids.drop(uid);
    const current = await currentInteraction(ctx);
    if (!current) throw sessionExpired();
    return current;
  }

  /** The interaction as the store has it now: read again when the request checked a kept copy, which the new read then replaces. */
  async function currentInteraction(ctx: Context): Promise<Interaction | undefined> {
    const state = routeState(ctx);
    if (!state.interactionKept) return state.interaction;
    const current = await provider.Interaction.find(state.interaction.uid);
    if (current) {
      state.interaction = current;
      state.interactionKept = false;
    }
    return current;
  }

  const loginCookieValue = (interaction: Interaction) => `${interaction.uid}:${String(interaction.params.client_id)}`;

  /**
   * The login the cookie says this browser last made (`uid:client_id`), as rememberLogin wrote it.
   * The cookie is the browser's to send: a value that does not decode (a stray %) is none the
   * broker wrote, and says nothing.
   */
  function rememberedLogin(ctx: Context): string {
    try {
      return decodeURIComponent(ctx.cookies.get(siteCookieName(ctx, LOGIN_COOKIE)) ?? '');
    } catch {
      return '';
    }
  }

  function rememberLogin(ctx: Context, login: string) {
    const value = encodeURIComponent(login);
    if (ctx.cookies.get(siteCookieName(ctx, LOGIN_COOKIE)) === value) return;
    ctx.cookies.set(siteCookieName(ctx, LOGIN_COOKIE), value, { path: '/', httpOnly: true, sameSite: 'lax', overwrite: true });
  }

  /**
   * Throws the expired page when the login has ended (its interaction gone, or holding its result
   * while the client's browser is on its way back): read again from the store when the request
   * checked a kept copy, which cannot know. For requests that would otherwise begin the login
   * again: its entry, and a poll that finds no eID under way (a cancel in another tab removed it).
   */
  async function refuseEnded(ctx: Context): Promise<void> {
    const current = await currentInteraction(ctx);
    if (!current || current.result) throw await loginEnded(ctx, current);
  }

  /**
   * loginOver for a login that has ended, `ended` its interaction while it holds the outcome: no
   * Cancel, which would only end the login again. Without a home page of the client to go back
   * to, the way back is the outcome's own: oidc-provider's resume takes it to the client (or, when
   * the other tab got there first, shows this page again).
   */
  async function loginEnded(ctx: Context, ended: Interaction | undefined): Promise<HttpError> {
    const state = routeState(ctx);
    state.cancelUrl = undefined;
    const wayBack = ended?.result ? { href: ended.returnTo, client: clientNameIn(state.client.metadata, views.localeOf(ctx)) } : undefined;
    if (wayBack && endedOutOfTime(ended?.result)) return ranOutOfTime(ctx, wayBack);
    return loginOver(ctx, wayBack);
  }

  /**
   * The page of a login that ran out of time to choose an eID: it says so, and its way back is
   * the login's own end (oidc-provider's resume), which brings the client access_denied at its
   * redirect_uri, with its state, rather than the client's home page.
   */
  function ranOutOfTime(ctx: Context, wayBack: NonNullable<ErrorPage['wayBack']>): HttpError {
    const again = { path: `/interaction/${encodeURIComponent(String(ctx.params.uid ?? ''))}/` };
    return new HttpError(400, 'session_expired', 'This login expired before an eID was started. Follow the way back to the service, and start again there.', undefined, {
      during: 'eid_choice',
      again,
      wayBack,
    });
  }

  /**
   * A login past its time to choose and start an eID (ttl.interaction, counted from its
   * authorization request) starts none: the login would otherwise live on, one try after
   * another. Its end is recorded as outOfTime, and its page says so (ranOutOfTime), with the way
   * back that takes the error to the client — where that can go only to the exact redirect_uri
   * the request named, still registered for the client. oidc-provider's resume then answers in
   * the request's response_mode, with its state and iss. When it cannot (the client gone, the
   * address no longer registered), the page is the expired page of a login that is over.
   */
  async function refuseOutOfTime(ctx: Context): Promise<void> {
    if (!choosingOver(routeState(ctx).interaction, deps.lifetime)) return;
    const current = await currentInteraction(ctx);
    if (!current || current.result) throw await loginEnded(ctx, current);
    if (!(await redirectStillRegistered(provider, current))) {
      routeState(ctx).cancelUrl = undefined;
      throw await loginOver(ctx);
    }
    await endWith(ctx, outOfTime);
    throw await loginEnded(ctx, current);
  }

  /** Ends the login with a failure no eID produced (audited, then recorded); answers the way back to the client. */
  async function endWith(ctx: Context, failure: Refusal): Promise<string> {
    await deps.audit.loginEnded(loginInfo(ctx, await startedEid(ctx)), { failure });
    return recordResult(await interactionToEnd(ctx), { error: failure.error, error_description: failure.description });
  }

  /**
   * A login whose interaction is over: the expired page, with its language links and, when this
   * browser's last login was this one, a way back to the client (else `otherwise`, if any).
   */
  async function loginOver(ctx: Context, otherwise?: ErrorPage['wayBack']): Promise<HttpError> {
    const uid = String(ctx.params.uid ?? '');
    const wayBack = (await wayBackOf(ctx, uid)) ?? otherwise;
    return sessionExpired({ again: { path: `/interaction/${encodeURIComponent(uid)}/` }, ...(wayBack ? { wayBack } : {}) });
  }

  /**
   * The home page (client_uri) of the client this browser last logged in to, if that login was
   * `uid` (any login, without one, of a client the operator let in). Only a URL registered for the
   * client: the cookie can lead nowhere else.
   */
  async function wayBackOf(ctx: Context, uid?: string): Promise<ErrorPage['wayBack']> {
    const [loginUid, clientId] = rememberedLogin(ctx).split(/:(.*)/s);
    const client = (uid === undefined || loginUid === uid) && clientId ? await provider.Client.find(clientId) : undefined;
    const metadata = client?.metadata() as Record<string, unknown> | undefined;
    // Any login will do for a page whose address needs none, but not one of a client anyone
    // registered: a page could open its authorization URL, then that address, and the broker's
    // origin would show the client's link.
    if (!metadata || (uid === undefined && registeredOpenly(metadata))) return undefined;
    return homePageIn(metadata, views.localeOf(ctx));
  }

  /**
   * A form or API call from another site is refused. Browsers say where a request comes from in
   * Sec-Fetch-Site; Origin is "null" on the broker's own pages (their Referrer-Policy is
   * no-referrer), so only a real foreign Origin counts against a request.
   */
  function fromOwnPages(ctx: Context): boolean {
    const site = ctx.get('sec-fetch-site');
    if (site && site !== 'same-origin') return false;
    const origin = ctx.get('origin');
    return !origin || origin === 'null' || origin === issuerOrigin;
  }

  function acrValuesOf(ctx: Context): string | undefined {
    return acrValuesIn(routeState(ctx).interaction);
  }

  /**
   * The login as `plugin` gets it. Made once while a login waits, not at every poll: it is the
   * same as long as the interaction's copy, the client's view and what the request carries that it
   * is made from (the query, cookies, languages, user agent and address) are, unless making it
   * wrote a cookie (a new browser id, a language picked in the query, a bad signature cleared),
   * which a request that carries the same again would write again.
   */
  function loginRequest(ctx: Context, plugin: EidPlugin): LoginRequest {
    const kept = keptLoginRequest(ctx, plugin);
    if (kept) return kept;
    const { interaction, client } = routeState(ctx);
    const cookiesBefore = cookiesSet(ctx);
    const request = Object.freeze(newLoginRequest(ctx, plugin));
    if (cookiesSet(ctx) === cookiesBefore) keptRequests.set(interaction, { plugin, client, from: madeFrom(ctx), request });
    return request;
  }

  /**
   * What of the request a login request is made from, as a digest: kept as it is, the joined
   * parts held the whole Cookie header and user agent of a request long gone, about 0.8 KB for
   * each login while it waits. Made in one call, without a Hash object, a digest costs under a
   * microsecond a poll, half as much: profiled at 5,000 polling pages, the object's steps cost
   * each poll as much as its QR code's HMAC.
   */
  const madeFrom = (ctx: Context) =>
    hash('sha256', `${ctx.querystring}\n${ctx.get('cookie')}\n${ctx.get('accept-language')}\n${ctx.get('user-agent')}\n${ctx.ip}`, 'base64url');

  /** The login request loginRequest made for this login earlier and would give again, if any: getting it writes nothing. */
  function keptLoginRequest(ctx: Context, plugin: EidPlugin): LoginRequest | undefined {
    const { interaction, client } = routeState(ctx);
    const kept = keptRequests.get(interaction);
    return kept?.plugin === plugin && kept.client === client && kept.from === madeFrom(ctx) ? kept.request : undefined;
  }

  function newLoginRequest(ctx: Context, plugin: EidPlugin): LoginRequest {
    const { interaction, client } = routeState(ctx);
    const { params, uid } = interaction;
    const acr = requestedAcr(plugin, acrValuesOf(ctx), eligibleEids(interaction, client), client.allowedAcrValues);
    const details = requestedDetails(params);
    const declared = Object.keys(plugin.clientMetadata ?? {}).filter((field) => client.metadata[field] !== undefined);
    const remembered = rememberedFor(ctx, plugin);
    return {
      uid,
      ...(acr ? { acr } : {}),
      clientId: client.clientId,
      ...(typeof params.login_hint === 'string' ? { loginHint: params.login_hint, loginHintProven: provenByKnownClient(interaction.trusted, 'login_hint', client.metadata) } : {}),
      locale: views.localeOf(ctx),
      ip: clientIp(ctx),
      userAgent: ctx.get('user-agent'),
      browserId: browserId(ctx),
      ...(remembered ? { remembered } : {}),
      ...(declared.length ? { clientMetadata: Object.fromEntries(declared.map((field) => [field, client.metadata[field]])) } : {}),
      ...(details ? { authorizationDetails: details } : {}),
    };
  }

  /**
   * The eIDs this login may go to: those the client may use, and — when it carries
   * authorization_details — only those serving their types (oidc-provider checked them already).
   * Neither the picker nor acr_values offer another: it would log the person in without the
   * signature or payment asked for, and the login could only end in a server_error.
   */
  function eligibleEids(interaction: Interaction, client: ClientView): readonly string[] | undefined {
    const details = requestedDetails(interaction.params);
    if (!details) return client.allowedEids;
    const serving = registry.servingTypes(details.map((detail) => detail.type));
    return client.allowedEids ? serving.filter((id) => client.allowedEids!.includes(id)) : serving;
  }

  /**
   * Where the login is: the id of the eID under way, or — once a failed eID sent the person back
   * to the picker — the picker's notice (JSON), until the next eID starts. One key, so neither
   * costs the store an extra command.
   */
  const eidKeyOf = (uid: string) => storeKey('loginEid', uid);
  const activeEidKey = (ctx: Context) => eidKeyOf(routeState(ctx).interaction.uid);

  /** Records the eID under way (its id) or the picker's notice (JSON); this instance's copy follows. */
  /**
   * Records the login's eID (or the picker's notice). `replacing`: answers what it replaced, which
   * costs the write a read in its script; a login's entry and a picker's notice need not know.
   */
  async function setLoginEid(uid: string, value: string, replacing = false): Promise<string | undefined> {
    startedEids.drop(uid);
    let earlier: string | undefined;
    if (replacing) earlier = await store.replace(eidKeyOf(uid), value, deps.lifetime.whole);
    else await store.set(eidKeyOf(uid), value, deps.lifetime.whole);
    if (!value.startsWith('{')) startedEids.keep(uid, value);
    return earlier;
  }

  /**
   * Makes `plugin` the login's eID. Another eID under way for the login until now (started in
   * another tab of the same login) is stopped at its eID: a login runs one eID's transaction at a
   * time, and one left running could still end the login when the person approves it in its app.
   */
  async function switchLoginEid(ctx: Context, plugin: EidPlugin): Promise<void> {
    const earlier = await setLoginEid(routeState(ctx).interaction.uid, plugin.id, true);
    const left = earlier === undefined || earlier === plugin.id ? undefined : registry.get(earlier);
    await left?.cancel?.(loginRequest(ctx, left));
  }

  /**
   * Records the eID a start begins as the login's — unless this instance wrote or read that very
   * eID for the login within StartedEids' time (its entry, say) and the login has no picker: only a
   * picker's notice or another eID's start replaces the record, and without a picker neither
   * happens, so the store holds it still (it lives as long as the interaction).
   */
  async function recordStarting(ctx: Context, plugin: EidPlugin): Promise<void> {
    const { uid } = routeState(ctx).interaction;
    if (startedEids.get(uid) === plugin.id && choice(ctx).kind === 'eid') return;
    await switchLoginEid(ctx, plugin);
  }

  function choice(ctx: Context) {
    return choiceFor(routeState(ctx).interaction, routeState(ctx).client);
  }

  function choiceFor(interaction: Interaction, client: ClientView): EidChoice {
    // The eIDs are narrowed to those serving the type (eligibleEids): a refusal says so, not that the client may use none.
    const type = requestedDetails(interaction.params)?.[0]?.type;
    const serving = type === undefined ? undefined : `authorization_details of type ${type}`;
    return chooseEid(registry, acrValuesIn(interaction), eligibleEids(interaction, client), client.allowedAcrValues, serving);
  }

  /**
   * Where /auth sends the browser: straight to the page of the one eID that acr_values (or the
   * client's allowed eIDs) fix, when the person waits on it there (`flow: 'wait'`) and it can
   * take logins — as the picker's address would have sent it on, one request sooner, with the
   * eID recorded as the login's as `enter` does. Every other login goes to the picker's address.
   * The interaction was made by this request, so this instance keeps it as checked (the page
   * then reads nothing), and its cookie keeps the path of the whole interaction, which the
   * eID's page, its API calls, Cancel and the picker share.
   */
  async function interactionUrl(ctx: KoaContextWithOIDC, interaction: Interaction): Promise<string> {
    const entry = `/interaction/${interaction.uid}`;
    ctx.cookies.set(begunCookie(ctx, interaction.uid), '1', { httpOnly: true, sameSite: 'lax', expires: new Date(interaction.exp * 1000), overwrite: true });
    const client = ctx.oidc.client;
    if (!client || interaction.prompt.name !== 'login') return entry;
    const chosen = choiceFor(interaction, clientViewOf(client));
    if (chosen.kind !== 'eid' || chosen.plugin.flow !== 'wait' || !registry.isAvailable(chosen.plugin.id)) return entry;
    await setLoginEid(interaction.uid, chosen.plugin.id);
    // oidc-provider made the parameters by deleting the absent ones, which leaves V8 a dictionary
    // of them (about 0.7 KB more than a plain object) for as long as the copy is kept. The record
    // is saved already; the same parameters go on in a plain object.
    interaction.params = { ...interaction.params };
    checked.keepChecked(interaction);
    keepCookiePath(ctx, interactionCookie, entry);
    return `${entry}/${chosen.plugin.id}/`;
  }

  /**
   * Whether a failed eID sends the person back to choose again: only when the client allows it,
   * there is a picker to go back to (not when one eID was asked for, or is all it may use), and
   * the login still has time to choose (ttl.interaction). Past it, the eID's failure ends the
   * login at the client as it is, rather than a picker that could only say the login expired.
   */
  function returnsToPicker(ctx: Context): boolean {
    return hasPickerToReturnTo(ctx) && !choosingOver(routeState(ctx).interaction, deps.lifetime);
  }

  /** returnsToPicker without its time: the client allows the picker, and there is one. */
  function hasPickerToReturnTo(ctx: Context): boolean {
    return routeState(ctx).client.returnToPicker && choice(ctx).kind === 'picker';
  }

  /**
   * The eID's failure ends this attempt, not the login: it is audited as the login's ending would
   * be, the eID is no longer the one under way, and the picker says what happened.
   */
  async function backToPicker(login: LoginInfo & { plugin: EidPlugin }, failure: EidFailure): Promise<string> {
    await deps.audit.loginEnded(login, { failure });
    await setPickerNotice(login.uid, login.plugin, failure);
    return `${deps.issuer}/interaction/${login.uid}/`;
  }

  /** The login's eID becomes the picker's notice of how `plugin` failed: no eID is under way. */
  async function setPickerNotice(uid: string, plugin: EidPlugin, failure: EidFailure): Promise<void> {
    const notice: PickerNotice = { eid: plugin.id, reason: noticeReason(failure) };
    await setLoginEid(uid, JSON.stringify(notice));
  }

  /**
   * A cancel in another tab may end the login while a start of it runs. The cancel records the
   * login's end before it stops the eID's transaction, and the start reads the login again after
   * its transaction is recorded: whichever comes second sees the other's, so the transaction
   * just begun is never left running at the eID for a login that is over. The start then
   * answers as for an ended login.
   */
  async function stopIfEndedMeanwhile(ctx: Context, plugin: EidPlugin): Promise<void> {
    const now = await provider.Interaction.find(routeState(ctx).interaction.uid);
    if (now && !now.result) return;
    await plugin.cancel?.(loginRequest(ctx, plugin));
    throw await loginEnded(ctx, now);
  }

  /**
   * An eID whose circuit is open fails fast, without being called; one that throws is a
   * server_error. A store that is away (or a process too busy) ends nothing: the start answers
   * 503 and the page asks again, which begins the eID's transaction anew.
   */
  async function startPlugin(ctx: Context, plugin: EidPlugin, options: StartOptions): Promise<StartResult> {
    if (!registry.isAvailable(plugin.id)) {
      log.warn({ eid: plugin.id }, 'eID unavailable (its circuit is open): the login fails fast');
      return { outcome: { failure: { error: 'server_error', description: `${plugin.id} is unavailable right now.` } } };
    }
    try {
      return await plugin.start(loginRequest(ctx, plugin), options);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      log.error({ err, eid: plugin.id }, 'eID could not start a login');
      return { outcome: { failure: { error: 'server_error', description: `${plugin.id} could not start a login.` } } };
    }
  }

  /**
   * The core's steps after an eID's start (the login read again, the audit's mark) use the store
   * once the eID's transaction is begun and recorded. When one fails (Redis away, or slower than
   * its command timeout), the start answers 503 and the page starts again; the transaction just
   * begun is stopped at the eID first, by its id and without the store, so that it does not wait
   * in the person's app for an approval nobody collects. An HttpError is an answer, not a
   * failure: the login ended meanwhile, and stopIfEndedMeanwhile stopped the transaction with it.
   */
  async function stoppedOnFailure(plugin: EidPlugin, started: StartResult, steps: () => Promise<void>): Promise<void> {
    try {
      await steps();
    } catch (err) {
      if (!(err instanceof HttpError) && started.transactionId) await stopStarted(plugin, started.transactionId);
      throw err;
    }
  }

  /** Best effort, within the eID client's own time limit: a refusal is logged, and the start's failure goes on. */
  async function stopStarted(plugin: EidPlugin, transactionId: string): Promise<void> {
    if (!plugin.stopStarted) return;
    await plugin.stopStarted(transactionId).then(
      () => log.warn({ eid: plugin.id }, 'a start failed after the eID began its transaction: it was stopped there'),
      (refused: unknown) =>
        log.warn({ eid: plugin.id, reason: (refused as Error).message }, 'a start failed after the eID began its transaction, which could not be stopped there: it runs until the eID ends it'),
    );
  }

  /** The login as audit events name it. */
  function loginInfo(ctx: Context, plugin: EidPlugin | undefined) {
    const { interaction, client } = routeState(ctx);
    const transactionType = requestedDetails(interaction.params)?.[0]?.type;
    return { uid: interaction.uid, clientId: client.clientId, ip: clientIp(ctx), ...(plugin ? { plugin } : {}), ...(transactionType ? { transactionType } : {}) };
  }

  /**
   * Before an eID's outcome is recorded on a request that took the started eID from this
   * instance's copy: that eID must still be the one under way in the store. Another instance may
   * have sent the person back to the picker, or started another eID, since the copy was made;
   * a page left open on the earlier eID then ends nothing.
   */
  async function stillStarted(uid: string, plugin: EidPlugin): Promise<void> {
    const stored = await store.get(eidKeyOf(uid));
    if (stored?.value === plugin.id) return;
    startedEids.drop(uid);
    if (stored || (await provider.Interaction.find(uid))) throw notStarted();
    throw over(uid);
  }

  /**
   * A login with no started eID in the store, on a request that checked this instance's copy of
   * the interaction: the interaction may have gone meanwhile (expired, or lost with a Redis that
   * restarted empty), and then the login is over rather than not started.
   */
  async function notStartedOrOver(ctx: Context): Promise<HttpError> {
    const { uid } = routeState(ctx).interaction;
    return (await currentInteraction(ctx)) ? notStarted() : over(uid);
  }

  /**
   * A login whose started eID and interaction are both gone from the store (the eID's record lives
   * as long as the interaction): it is over, and this instance's copies of it go.
   */
  function over(uid: string): HttpError {
    checked.drop(uid);
    startedEids.drop(uid);
    return sessionExpired();
  }

  async function startedEid(ctx: Context): Promise<EidPlugin | undefined> {
    const stored = await store.get(activeEidKey(ctx));
    return stored ? registry.get(stored.value) : undefined;
  }

  return {
    loadInteraction,
    refuseEnded,
    takeKept,
    enterKept,
    enterTaken,
    loginRequest,
    keptLoginRequest,
    interactionUrl,

    choice,
    returnsToPicker,

    /**
     * An error page that knows no login (an eID's answer that belongs to none under way) gets the
     * way back to the client this browser last logged in to, where it registered a home page: the
     * page was a dead end, saying to go back to the service without a way there.
     */
    async withLastClient(err: HttpError, ctx: Context): Promise<HttpError> {
      if (err.page?.wayBack) return err;
      const wayBack = await wayBackOf(ctx);
      return wayBack ? new HttpError(err.status, err.error, err.description, err.retryAfterSeconds, { ...err.page, wayBack }) : err;
    },

    /** What the picker says about the eID that sent the person back to it, if one did. */
    async notice(ctx: Context): Promise<(PickerNotice & { display_name: string; message: string }) | undefined> {
      const stored = await store.get(activeEidKey(ctx));
      if (!stored?.value.startsWith('{')) return undefined;
      const notice = JSON.parse(stored.value) as PickerNotice;
      const t = views.translator(views.localeOf(ctx));
      const displayName = eidName(t, notice.eid);
      return { ...notice, display_name: displayName, message: t(`picker.notice.${notice.reason}`, { eid: eidInText(t, notice.eid) }) };
    },

    startedEid,

    /**
     * The eIDs this login offers, as the picker and GET ui show them: grouped by the order
     * chosen, named in the person's language, and whether each can take logins now.
     */
    offered(ctx: Context) {
      const chosen = this.choice(ctx);
      const options = chosen.kind === 'refused' ? [] : chosen.kind === 'eid' ? [chosen] : chosen.options;
      const locale = views.localeOf(ctx);
      const t = views.translator(locale);
      const home = homeCountryOf(locale);
      return options
        .map(({ plugin }) => {
          const remembered = rememberedFor(ctx, plugin);
          return {
            id: plugin.id,
            country: plugin.country.code,
            acr: [...plugin.acrValues],
            display_name: eidName(t, plugin.id),
            available: registry.isAvailable(plugin.id),
            // The eID's own: how its page looks, and what this browser chose at its last start.
            ...(plugin.pageSettings ? { settings: plugin.pageSettings } : {}),
            ...(remembered ? { remembered } : {}),
          };
        })
        .sort((a, b) => Number(b.country === home) - Number(a.country === home));
    },

    locale: (ctx: Context) => views.localeOf(ctx),

    /**
     * The client as the person sees it, in the page's language where the client gave that (OpenID
     * Connect Dynamic Client Registration §2.1): its name, its logo when it has an https one (not
     * for a client anyone registered), and its privacy policy and terms of service, which the same
     * specification's §2 asks the provider to show.
     */
    clientShown(ctx: Context) {
      const { metadata } = routeState(ctx).client;
      const locale = views.localeOf(ctx);
      const [logo, policy, terms] = (['logo_uri', 'policy_uri', 'tos_uri'] as const).map((field) => inLanguage(metadata, field, locale));
      return {
        display_name: clientNameIn(metadata, locale),
        ...(typeof logo === 'string' && logo.startsWith('https://') && !registeredOpenly(metadata) ? { logo_uri: logo } : {}),
        ...(isWebPage(policy) ? { policy_uri: policy } : {}),
        ...(isWebPage(terms) ? { tos_uri: terms } : {}),
      };
    },

    /**
     * The eID this login started, for the API calls that follow its start (poll, events): this
     * instance's copy while it has one (StartedEids), else read from the store.
     */
    async activeEid(ctx: Context): Promise<EidPlugin> {
      const { uid } = routeState(ctx).interaction;
      const kept = startedEids.get(uid);
      const plugin = kept ? registry.get(kept) : await startedEid(ctx);
      if (!plugin) throw await notStartedOrOver(ctx);
      if (!kept) startedEids.keep(uid, plugin.id);
      routeState(ctx).startedEidKept = Boolean(kept);
      return plugin;
    },

    /**
     * Sends the person to the page of an eID they wait on (`flow: 'wait'`), which starts it
     * through the JSON API; the eID is remembered as this login's, for a cancel on that page.
     * An eID whose circuit is open is not entered: its start fails fast, as for any eID.
     */
    async enter(ctx: Context, option: EidOption): Promise<StartResult> {
      const { plugin } = option;
      if (!registry.isAvailable(plugin.id)) return this.start(ctx, option, {});
      await switchLoginEid(ctx, plugin);
      return { redirectTo: `/interaction/${routeState(ctx).interaction.uid}/${plugin.id}/` };
    },

    /**
     * Starts the chosen eID, within the eid_start rate limits; a plugin that fails to start, or
     * whose circuit is open, ends the login with server_error. A start begins the eID's
     * transaction and is audited (EID_100001), unless the eID first asks the person a question.
     */
    async start(ctx: Context, { plugin, acr }: EidOption, options: StartOptions): Promise<StartResult> {
      // An ended login read from the store is not begun again. A kept copy is not read again for
      // this, once per login: a page first asks poll, whose NOT_STARTED does (refuseNotWaiting).
      if (routeState(ctx).interaction.result) throw await loginEnded(ctx, routeState(ctx).interaction);
      const login = loginInfo(ctx, plugin);
      await deps.limiter.check('eid_start', { ip: login.ip });
      await recordStarting(ctx, plugin);
      const result = await startPlugin(ctx, plugin, options);
      await stoppedOnFailure(plugin, result, async () => {
        await stopIfEndedMeanwhile(ctx, plugin);
        const asksFirst = 'status' in result && result.status.status === 'NOT_STARTED';
        if (!asksFirst) await deps.audit.loginStarted({ ...login, plugin }, { ...(acr ? { acr } : {}), ...(result.transactionId ? { transactionId: result.transactionId } : {}) });
      });
      return result;
    },

    /**
     * Ends the eID's part with its outcome; returns where the browser goes next. A person is
     * logged in; a failure goes back to the picker when the login returns there (see
     * returnsToPicker) and the person left only the eID, else it ends the login at the client.
     */
    async finish(ctx: Context, plugin: EidPlugin, outcome: EidOutcome, leaving: Leaving = 'eid'): Promise<string> {
      if (routeState(ctx).startedEidKept) await stillStarted(routeState(ctx).interaction.uid, plugin);
      if ('failure' in outcome && leaving === 'eid' && returnsToPicker(ctx)) return backToPicker({ ...loginInfo(ctx, plugin), plugin }, outcome.failure);
      return deps.finish(clientIp(ctx), await interactionToEnd(ctx), plugin, outcome);
    },

    /**
     * `finish` for later, when the request that checked the interaction is long answered (an
     * event stream's outcome): it keeps only the login's ids, the address and whether it returns
     * to the picker, and reads the interaction again when it finishes, so that an open stream
     * holds neither the request nor the interaction.
     */
    finishLater(ctx: Context, plugin: EidPlugin): (outcome: EidOutcome) => Promise<string> {
      const login = { ...loginInfo(ctx, plugin), plugin };
      const hasPicker = hasPickerToReturnTo(ctx);
      const { exp } = routeState(ctx).interaction;
      const eidKept = Boolean(routeState(ctx).startedEidKept);
      return async (outcome) => {
        if (eidKept) await stillStarted(login.uid, plugin);
        if ('failure' in outcome && hasPicker && !choosingOver({ exp }, deps.lifetime)) return backToPicker(login, outcome.failure);
        checked.drop(login.uid);
        startedEids.drop(login.uid);
        const interaction = await provider.Interaction.find(login.uid);
        if (!interaction) throw sessionExpired();
        return deps.finish(login.ip, interaction, plugin, outcome);
      };
    },

    /**
     * The person gave up the eID under way, or the whole login (`leaving`): the started eID (if
     * any) stops its transaction, and its part ends with the failure it was showing when the
     * person could have tried again, or as cancelled. With no eID under way the login ends with
     * access_denied.
     */
    async abandon(ctx: Context, leaving: Leaving): Promise<string> {
      const started = await startedEid(ctx);
      if (!started) return this.refuse(ctx, 'access_denied', 'The person cancelled the login.');
      // Pages waiting on the eID hear of its cancel at once and ask where the login stands: it
      // says so from before then, back at the picker or ended (the eID's ending replaces either
      // below). Recorded after the cancel, a page that asked first was offered a new start.
      if (leaving === 'eid' && returnsToPicker(ctx)) await setPickerNotice(routeState(ctx).interaction.uid, started, cancelledAtEid);
      else await recordResult(await interactionToEnd(ctx), resultOfCancel);
      const shown = started.cancel ? await started.cancel(loginRequest(ctx, started)) : undefined;
      return this.finish(ctx, started, shown ?? { failure: cancelledAtEid }, leaving);
    },

    /**
     * A poll of `plugin` that found no transaction under way: the login may have ended meanwhile,
     * or left the eID for the picker (a cancel in another tab, whose pages heard of the order's
     * end before it did), and this instance's copy of the started eID may be older than either.
     * The page, told it is not started, would offer a new start, or begin one by itself.
     */
    async refuseNotWaiting(ctx: Context, plugin: EidPlugin): Promise<void> {
      await refuseEnded(ctx);
      if (routeState(ctx).startedEidKept) await stillStarted(routeState(ctx).interaction.uid, plugin);
    },

    /**
     * Where a login that cannot go to any eID ends (at the client, with the OIDC error), before an
     * eID is shown or started; undefined when it can go on. It cannot when the eIDs the client may
     * use leave none for the request, or when its pushed request already gave a code to a login in
     * another tab: the eID would have the person identify for a login that can only be refused.
     * A login past its time to choose an eID ends too, and throws the page that says so, whose
     * way back takes the error to the client (refuseOutOfTime).
     */
    async refusedTo(ctx: Context): Promise<string | undefined> {
      await refuseOutOfTime(ctx);
      const chosen = choice(ctx);
      const refusal = chosen.kind === 'refused' ? chosen : (await usedPushedRequest(provider, routeState(ctx).interaction)) ? USED_PUSHED_REQUEST : undefined;
      return refusal && this.refuse(ctx, refusal.error, refusal.description);
    },

    /** Ends the login with an error that no eID produced (cancelled by the person, a refused acr). */
    refuse(ctx: Context, error: string, description: string): Promise<string> {
      return endWith(ctx, { error, description, ...(error === 'access_denied' ? { ending: 'cancelled' as const } : {}) });
    },
  };
}

export type LoginSteps = ReturnType<typeof loginSteps>;
