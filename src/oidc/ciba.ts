import { createHash } from 'node:crypto';
import Provider, { errors, type Configuration, type FindAccount, type KoaContextWithOIDC } from 'oidc-provider';
import type { AuditLog, LoginInfo } from '../audit/audit.js';
import type { BrokerConfig } from '../config/schema.js';
import type { AuthorizationDetail, BackchannelRequest, BackchannelRequestInput, EidBackchannel, EidFailure, EidOutcome, EidPlugin } from '../eids/plugin.js';
import type { EidRegistry } from '../eids/registry.js';
import { clientIp } from '../http/client-ip.js';
import { isBlank, isShowable, UNSHOWABLE_TEXT } from '../http/shown-text.js';
import { completeIdentity } from '../identity/identity.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import type { Accounts } from './accounts.js';
import type { AfterEndpoint } from './after-endpoints.js';
import { requestedDetails } from './authorization-details.js';
import type { Subjects } from './subject.js';
import { storeKey } from '../store/keys.js';
import { PromptsPerPerson } from './prompts-per-person.js';
import { CIBA_GRANT_TYPE } from './grant-types.js';
import { traceScope } from '../http/request-scope.js';

/** The JSON answer of one of oidc-provider's endpoints, to amend; undefined when it has none (or answered with a page). */
function answerOf(ctx: KoaContextWithOIDC): Record<string, unknown> | undefined {
  return typeof ctx.body === 'object' && ctx.body !== null ? (ctx.body as Record<string, unknown>) : undefined;
}

/** CIBA's discovery metadata (CIBA Core §4), which oidc-provider writes whenever the feature is on. */
const CIBA_METADATA = [
  'backchannel_authentication_endpoint',
  'backchannel_token_delivery_modes_supported',
  'backchannel_user_code_parameter_supported',
  'backchannel_authentication_request_signing_alg_values_supported',
] as const;

/**
 * CIBA in discovery as the broker serves it. oidc-provider announces user_code whatever
 * verifyUserCode does with it; here it is refused. With no configured eID that serves backchannel
 * requests, every request to the endpoint would be refused, so neither it nor the grant is listed;
 * the feature stays on, so that a client registered for CIBA stays readable while its eID is off.
 */
function cibaInDiscovery(ctx: KoaContextWithOIDC, served: boolean): void {
  const discovery = answerOf(ctx);
  if (!discovery || ctx.status !== 200) return;
  if (served) {
    discovery.backchannel_user_code_parameter_supported = false;
    return;
  }
  for (const field of CIBA_METADATA) delete discovery[field];
  if (Array.isArray(discovery.grant_types_supported)) discovery.grant_types_supported = discovery.grant_types_supported.filter((grant) => grant !== CIBA_GRANT_TYPE);
}

/** The values of the request parameter call_initiator, as BankID's phone API names them. */
const CALL_INITIATORS = ['user', 'RP'] as const;

/** binding_message: one short line the person recognises (CIBA §7.1), in any language, at most this many characters. */
const BINDING_MESSAGE_MAX = 255;

/** Whether `message` is such a line: not blank, short enough, and shown as it is written (shown-text.ts). */
function isBindingMessage(message: string): boolean {
  return !isBlank(message) && [...message].length <= BINDING_MESSAGE_MAX && isShowable(message);
}

/**
 * id_token_hint names the person by an ID token the broker issued earlier. An eID's backchannel
 * needs the person's own identifier (login_hint), which a sub does not give back, and
 * oidc-provider has no hook for this hint as it has for the other two: let through, the request
 * would be stored with no eID to start (a server_error), so it is refused before that.
 */
function refuseIdTokenHint(ctx: KoaContextWithOIDC): Promise<void> {
  if (ctx.oidc.params?.id_token_hint) throw new errors.InvalidRequest('id_token_hint is not supported: send the personal number as login_hint');
  return Promise.resolve();
}

/** A client that polls sooner than this share of `interval` after its last poll gets slow_down. */
const POLL_PACE_SHARE = 0.8;

type BackchannelPlugin = EidPlugin & { backchannel: EidBackchannel };
type BackchannelAuthenticationRequest = InstanceType<Provider['BackchannelAuthenticationRequest']>;
type CibaFeature = NonNullable<NonNullable<Configuration['features']>['ciba']>;

/** What the broker keeps of a request besides oidc-provider's record: enough for any instance to follow it. */
interface StoredRequest {
  eid: string;
  request: BackchannelRequest;
  /** The client's backend, for the audit. */
  ip: string;
}

/** How an eID's failure reaches the client polling the token endpoint (CIBA §11). */
function tokenError(failure: EidFailure): errors.OIDCProviderError {
  if (failure.ending === 'expired') return new errors.ExpiredToken(failure.description);
  if (failure.error === 'access_denied') return new errors.AccessDenied(failure.description);
  return new errors.CustomOIDCProviderError(failure.error, failure.description);
}

/** How a request that ran out before the person answered ends, for the audit and the metrics (the client's poll gets expired_token). */
const REQUEST_EXPIRED: EidFailure = { error: 'access_denied', description: 'The request expired before the person answered.', ending: 'expired' };

/**
 * The sweep of expired requests (see Backchannel.start): each instance looks this often; a
 * request is due this long after it expires, when the instance following it has stopped it
 * already unless that instance went away; an instance takes this many at a time, each for this
 * long (one it took and could not stop is due again after it); and the request's record is kept
 * this long past its expiry, for the sweep to read.
 */
const SWEEP = { intervalMs: 5_000, graceMs: 5_000, batch: 20, leaseMs: 30_000, keptSeconds: 60 } as const;

const EXPIRIES_KEY = storeKey('backchannelExpiries');

/** The result a failure counts as in neb_backchannel_requests_total. */
function resultOf(failure: EidFailure): string {
  return failure.ending ?? 'failed';
}

export interface BackchannelDependencies {
  registry: EidRegistry;
  accounts: Accounts;
  subjects: Subjects;
  /** Sealed: the requests hold personal numbers and what the person is asked to sign. */
  store: Store;
  audit: AuditLog;
  metrics: Metrics;
  log: Logger;
  settings: BrokerConfig['ciba'];
}

/**
 * OpenID Connect CIBA in poll mode, for eIDs with a backchannel (EidPlugin.backchannel).
 * A client registered for it (backchannel_token_delivery_mode and the CIBA grant type) posts
 * login_hint (the person), call_initiator, and binding_message or an authorization_details entry
 * (RFC 9396, checked by oidc-provider against the eID's declared types); oidc-provider checks the client and keeps the request, the eID starts the transaction on
 * the person's device, and an instance follows it until it ends, then records the result, which
 * the client collects at the token endpoint. The instance that started a request follows it; a
 * poll reaching another instance (the first one stopped) has that one follow it too.
 */
export class Backchannel {
  readonly #deps: BackchannelDependencies;
  /** Requests this instance follows, by id, with what stops following. */
  readonly #following = new Map<string, () => void>();
  /** Within one backchannel request: the eID and request checked by processLoginHint. */
  readonly #checked = new WeakMap<object, { plugin: BackchannelPlugin; input: BackchannelRequestInput; personKey: string }>();
  readonly #perPerson: PromptsPerPerson;
  #provider: Provider | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping: Promise<void> | undefined;

  constructor(deps: BackchannelDependencies) {
    this.#deps = deps;
    this.#perPerson = new PromptsPerPerson(deps.store, deps.settings.per_person, deps.metrics);
  }

  /** oidc-provider's `features.ciba`. */
  feature(): CibaFeature {
    return {
      enabled: true,
      // Poll mode only: ping would POST to a client's endpoint, which no test here proves yet.
      deliveryModes: ['poll'],
      processLoginHint: (ctx, loginHint) => this.#processLoginHint(ctx, loginHint ?? ''),
      processLoginHintToken: () => {
        throw new errors.InvalidRequest('login_hint_token is not supported: send the personal number as login_hint');
      },
      validateBindingMessage: (_ctx, message) => {
        if (message !== undefined && !isBindingMessage(message)) {
          throw new errors.InvalidBindingMessage(`binding_message must be 1 to ${BINDING_MESSAGE_MAX} characters of text on one line, and ${UNSHOWABLE_TEXT}`);
        }
        return Promise.resolve();
      },
      // The first of its hooks oidc-provider calls with the request, before it reads the hints.
      validateRequestContext: (ctx) => refuseIdTokenHint(ctx),
      verifyUserCode: (_ctx, _account, userCode) => {
        if (userCode !== undefined) throw new errors.InvalidRequest('user_code is not supported');
        return Promise.resolve();
      },
      triggerAuthenticationDevice: (ctx, request) => this.#trigger(ctx, request as BackchannelAuthenticationRequest),
    };
  }

  /** oidc-provider's `extraParams` entry for call_initiator (CIBA requests need it; elsewhere it is ignored). */
  readonly callInitiatorParameter = (_ctx: KoaContextWithOIDC, value: string | undefined): void => {
    if (value !== undefined && !(CALL_INITIATORS as readonly string[]).includes(value)) {
      throw new errors.InvalidRequest('call_initiator must be user (the person called you) or RP (you called the person)');
    }
  };

  /** oidc-provider's BackchannelAuthenticationRequest lifetime: expires_in, or the client's shorter requested_expiry. */
  readonly lifetime = (ctx: KoaContextWithOIDC): number => {
    const requested = Number(ctx.oidc.params?.requested_expiry);
    return Number.isSafeInteger(requested) && requested > 0 ? Math.min(requested, this.#deps.settings.expires_in) : this.#deps.settings.expires_in;
  };

  /**
   * The person of a backchannel request is known by their hint alone until the eID identifies
   * them. Afterwards the accounts answer, and a CIBA grant's ID token carries the granted
   * authorization_details (with the eID's evidence) as any other login's does.
   */
  findAccount(inner: FindAccount): FindAccount {
    return async (ctx, sub, token) => {
      if (ctx?.oidc?.route === 'backchannel_authentication') return { accountId: sub, claims: () => ({ sub }) };
      return inner(ctx, sub, token);
    };
  }

  /**
   * Adds to oidc-provider what CIBA asks and it leaves out: `interval` in the acknowledgement,
   * unauthorized_client for a client without the grant (it says invalid_request), slow_down, and
   * the audit of refused requests. Returns the steps that amend its endpoints' answers.
   */
  attach(provider: Provider): AfterEndpoint[] {
    this.#provider = provider;
    return [
      { routes: ['discovery'], after: (ctx) => cibaInDiscovery(ctx, this.#served()) },
      { routes: ['backchannel_authentication'], after: (ctx) => this.#answered(ctx) },
      { routes: ['token'], after: (ctx) => this.#pendingPollAnswered(ctx) },
    ];
  }

  /** A CIBA poll's authorization_pending: slow_down when it came too soon. */
  async #pendingPollAnswered(ctx: KoaContextWithOIDC): Promise<void> {
    if (ctx.oidc.params?.grant_type !== CIBA_GRANT_TYPE || answerOf(ctx)?.error !== 'authorization_pending') return;
    await this.#pendingPoll(ctx, String(ctx.oidc.params.auth_req_id));
  }

  /** Whether a configured eID serves backchannel requests. */
  #served(): boolean {
    return this.#deps.registry.all.some((plugin) => plugin.backchannel);
  }

  /** The backchannel endpoint's answer: the acknowledgement gets `interval`, a refusal its audit event. */
  #answered(ctx: KoaContextWithOIDC): void {
    const body = answerOf(ctx);
    if (!body) return;
    const { audit, metrics, settings } = this.#deps;
    if (ctx.status === 200 && body.auth_req_id) {
      body.interval = settings.interval;
      return;
    }
    const client = ctx.oidc.client;
    if (client && !client.grantTypeAllowed(CIBA_GRANT_TYPE)) {
      body.error = 'unauthorized_client';
      body.error_description = 'this client is not registered for CIBA (backchannel_token_delivery_mode and the urn:openid:params:grant-type:ciba grant)';
    }
    audit.emit('backchannel.refused', {
      source_ip: clientIp(ctx),
      ...(client ? { client_id: client.clientId } : {}),
      error: String(body.error),
      message: String(body.error_description ?? ''),
    });
    metrics.backchannelRequests.inc({ eid: 'none', operation: 'none', result: 'refused' });
  }

  /**
   * Starts this instance's sweep of expired requests, when an eID serves them: a request whose
   * instance went away while it waited, and whose client stopped polling (so that no other
   * instance took it up), has no one to stop its transaction when it expires. Every instance
   * looks for such requests a little after they expire, and one stops each, as its follower would.
   */
  start(): void {
    if (!this.#served()) return;
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP.intervalMs);
    this.#sweeper.unref();
  }

  /** Stops following and sweeping here; the requests followed here are left to the other instances' sweeps. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const stop of this.#following.values()) stop();
    this.#following.clear();
    await this.#sweeping;
  }

  #sweep(): void {
    if (this.#sweeping) return;
    this.#sweeping = this.#stopExpired()
      .catch((err: unknown) => this.#deps.log.warn({ reason: (err as Error).message }, 'expired backchannel requests could not be read; trying again'))
      .finally(() => {
        this.#sweeping = undefined;
      });
  }

  /** The requests due (expired a while ago, and not ended), each stopped as its follower would have. */
  async #stopExpired(): Promise<void> {
    const { store, registry } = this.#deps;
    for (const id of this.#sweeper ? await store.takeDue(EXPIRIES_KEY, SWEEP.batch, SWEEP.leaseMs) : []) {
      const record = await store.get(requestKey(id));
      const stored = record ? (JSON.parse(record.value) as StoredRequest) : undefined;
      const plugin = stored && registry.get(stored.eid);
      if (stored && plugin?.backchannel) await this.#expired(plugin as BackchannelPlugin, stored);
      else await store.unschedule(EXPIRIES_KEY, id);
    }
  }

  /** The eID a client's request goes to: the one its acr_values name, else the first the client may use. */
  #pluginFor(allowedEids: unknown, acrValues: unknown): BackchannelPlugin | undefined {
    const candidates = this.#deps.registry.all.filter(
      (plugin): plugin is BackchannelPlugin => plugin.backchannel !== undefined && (!Array.isArray(allowedEids) || allowedEids.includes(plugin.id)),
    );
    if (typeof acrValues !== 'string' || !acrValues) return candidates[0];
    const requested = acrValues.split(' ');
    return candidates.find((plugin) => requested.includes(plugin.backchannel.acr));
  }

  async #processLoginHint(ctx: KoaContextWithOIDC, loginHint: string): Promise<string> {
    const client = ctx.oidc.client!;
    const params = ctx.oidc.params ?? {};
    const metadata = client.metadata() as Record<string, unknown>;
    const plugin = this.#pluginFor(metadata.allowed_eids, params.acr_values);
    if (!plugin) throw new errors.InvalidRequest('no eID this client may use can reach a person this way (check acr_values)');
    const callInitiator = params.call_initiator as BackchannelRequestInput['callInitiator'] | undefined;
    if (!callInitiator) throw new errors.InvalidRequest('call_initiator is required: user (the person called you) or RP (you called the person)');
    // oidc-provider has checked the entries against the declared types (authorization-details.ts).
    const authorizationDetails = requestedDetails(params);
    const declared = Object.keys(plugin.clientMetadata ?? {}).filter((field) => metadata[field] !== undefined);
    const input: BackchannelRequestInput = {
      clientId: client.clientId,
      loginHint,
      callInitiator,
      ...(typeof params.binding_message === 'string' ? { message: params.binding_message } : {}),
      ...(authorizationDetails ? { authorizationDetails } : {}),
      ...(declared.length ? { clientMetadata: Object.fromEntries(declared.map((field) => [field, metadata[field]])) } : {}),
    };
    const checked = plugin.backchannel.check(input);
    if ('problem' in checked) throw new errors.InvalidRequest(checked.problem);
    const sub = this.#deps.subjects.forPerson(plugin.id, checked.personKey);
    // Counted once the request's contents have passed their checks: a malformed request uses up none of the person's allowance.
    await this.#perPerson.count(ctx, client.clientId, sub);
    this.#checked.set(ctx, { plugin, input, personKey: checked.personKey });
    return sub;
  }

  /** The request is saved and its auth_req_id about to be answered: the eID starts the transaction. */
  async #trigger(ctx: KoaContextWithOIDC, saved: BackchannelAuthenticationRequest): Promise<void> {
    const checked = this.#checked.get(ctx);
    if (!checked) throw new Error('a backchannel request reached its trigger without its login_hint checked');
    const { plugin, input, personKey } = checked;
    // By the store's clock, which every instance following the request reads alike: one whose
    // host clock ran ahead gave the request up (and stopped it at the eID) before its time.
    const request: BackchannelRequest = { ...input, id: requestId(saved.jti!), expiresAt: this.#deps.store.now() + saved.expiration * 1000 };
    const stored: StoredRequest = { eid: plugin.id, request, ip: clientIp(ctx) };
    await this.#deps.store.set(requestKey(request.id), JSON.stringify(stored), saved.expiration + SWEEP.keptSeconds);
    // Due before the eID is asked: an instance that goes away once the transaction is begun leaves it to the sweep.
    await this.#deps.store.schedule(EXPIRIES_KEY, request.id, request.expiresAt + SWEEP.graceMs);
    const started = await plugin.backchannel.start(request).catch(async (err: unknown) => {
      // Nothing begun is left (the eID cancels what it cannot record), and the client gets no
      // auth_req_id: no sweep is to count the request as expired. Taken out on a best-effort basis,
      // as the start failed on a store that may still be failing; the start's own failure goes on.
      await this.#deps.store.unschedule(EXPIRIES_KEY, request.id).catch(() => undefined);
      throw err;
    });
    const login = loginInfo(stored, plugin);
    if ('failure' in started) {
      await this.#record(plugin, stored, saved.jti!, { failure: started.failure });
      return;
    }
    this.#deps.audit.backchannelRequested(login, { personalNumber: personKey, transactionId: started.transactionId, acr: plugin.backchannel.acr });
    this.#deps.metrics.backchannelRequests.inc({ eid: plugin.id, operation: operationOf(request), result: 'started' });
    await this.#follow(plugin, stored, saved.jti!);
  }

  /**
   * A poll while the request is pending: one sooner than `interval` after the last gets
   * slow_down (CIBA §11), and a request no instance here follows is followed from now on.
   */
  async #pendingPoll(ctx: KoaContextWithOIDC, authReqId: string): Promise<void> {
    const id = requestId(authReqId);
    const { store, settings, log } = this.#deps;
    if (!(await store.setIfAbsent(storeKey('backchannelPoll', id), '1', settings.interval * POLL_PACE_SHARE))) {
      const slowDown = new errors.SlowDown(`poll at most every ${settings.interval} seconds`);
      ctx.status = slowDown.statusCode;
      ctx.body = { error: slowDown.error, error_description: slowDown.error_description };
    }
    if (this.#following.has(id)) return;
    const record = await store.get(requestKey(id));
    const stored = record ? (JSON.parse(record.value) as StoredRequest) : undefined;
    const plugin = stored && this.#deps.registry.get(stored.eid);
    if (!stored || !plugin?.backchannel) return;
    log.info({ eid: stored.eid }, 'following a backchannel request started on another instance');
    await this.#follow(plugin as BackchannelPlugin, stored, authReqId);
  }

  async #follow(plugin: BackchannelPlugin, stored: StoredRequest, authReqId: string): Promise<void> {
    const { request } = stored;
    if (this.#following.has(request.id)) return;
    let stop: (() => void) | undefined;
    const giveUp = traceScope()(() => setTimeout(() => void this.#expired(plugin, stored), Math.max(0, request.expiresAt - this.#deps.store.now())));
    giveUp.unref();
    // Until `follow` resolves, the entry keeps a second poll here from following twice.
    this.#following.set(request.id, () => {
      clearTimeout(giveUp);
      stop?.();
    });
    try {
      stop = await plugin.backchannel.follow(request, (outcome) => {
        clearTimeout(giveUp);
        this.#unfollow(request.id);
        this.#record(plugin, stored, authReqId, outcome).catch((err: unknown) => this.#deps.log.error({ err, eid: plugin.id }, 'a backchannel result could not be recorded'));
      });
      if (!this.#following.has(request.id)) stop();
    } catch (err) {
      clearTimeout(giveUp);
      this.#unfollow(request.id);
      this.#deps.log.warn({ reason: (err as Error).message, eid: plugin.id }, 'a backchannel request could not be followed; its next poll tries again');
    }
  }

  /**
   * The request ran out before its transaction ended: no more following it, the transaction is
   * stopped at the eID, and the request's end is audited and counted as an expiry (once, by
   * whichever instance gets there first: its follower, or a sweep). Once stopped, no sweep takes it.
   */
  async #expired(plugin: BackchannelPlugin, stored: StoredRequest): Promise<void> {
    this.#unfollow(stored.request.id);
    try {
      await plugin.backchannel.cancel(stored.request);
      if (await this.#firstToEnd(stored.request)) await this.#failed(plugin, stored, REQUEST_EXPIRED);
      await this.#deps.store.unschedule(EXPIRIES_KEY, stored.request.id);
    } catch (err) {
      this.#deps.log.warn({ reason: (err as Error).message, eid: plugin.id }, 'the transaction of an expired backchannel request could not be stopped');
    }
  }

  #unfollow(id: string): void {
    const stop = this.#following.get(id);
    this.#following.delete(id);
    stop?.();
  }

  /**
   * Records how the request ended, once whichever instances saw it end: a person becomes a grant
   * of the scopes asked for (with the authorization_details granted, when it asked for some:
   * they reach the token response and the ID token, RFC 9396); a failure becomes the
   * error the client's next poll gets, with its description kept (oidc-provider's own result
   * call drops it).
   */
  async #record(plugin: BackchannelPlugin, stored: StoredRequest, authReqId: string, outcome: EidOutcome): Promise<void> {
    const { audit, metrics } = this.#deps;
    const provider = this.#provider!;
    const { request } = stored;
    if (!(await this.#firstToEnd(request))) return;
    // Ended at the eID: nothing left for a sweep to stop.
    await this.#deps.store.unschedule(EXPIRIES_KEY, request.id);
    const saved = await provider.BackchannelAuthenticationRequest.find(authReqId, { ignoreExpiration: true });
    // Expired by the store's clock, as the request's give-up counts (#follow): by this host's, a
    // request approved in its last seconds went unrecorded on an instance whose clock ran ahead.
    if (!saved || request.expiresAt <= this.#deps.store.now()) return;
    const login = loginInfo(stored, plugin);
    const operation = operationOf(request);
    const person = 'person' in outcome ? await this.#person(plugin, request, outcome, saved) : outcome;
    if ('failure' in person) {
      await this.#failed(plugin, stored, person.failure);
      saved.errorDescription = person.failure.description;
      await provider.backchannelResult(saved, tokenError(person.failure));
      return;
    }
    const { identity, sub, authorizationDetails } = person;
    const grant = new provider.Grant({ accountId: sub, clientId: request.clientId });
    grant.addOIDCScope(saved.scope!);
    const claims = saved.claims as { id_token?: object; userinfo?: object } | undefined;
    grant.addOIDCClaims([...Object.keys(claims?.id_token ?? {}), ...Object.keys(claims?.userinfo ?? {})]);
    await grant.save();
    await audit.loginEnded(login, { identity, sub, acr: plugin.backchannel.acr });
    metrics.backchannelRequests.inc({ eid: plugin.id, operation, result: 'completed' });
    await provider.backchannelResult(saved, grant, {
      acr: plugin.backchannel.acr,
      amr: person.amr,
      authTime: Math.floor(Date.now() / 1000),
      ...(authorizationDetails ? { rar: authorizationDetails } : {}),
    });
  }

  /** Whether this is the first instance to see the request end: the one that records and counts its ending. */
  #firstToEnd(request: BackchannelRequest): Promise<boolean> {
    return this.#deps.store.setIfAbsent(storeKey('backchannelResult', request.id), '1', this.#deps.settings.expires_in);
  }

  /** A failed ending, audited and counted. */
  async #failed(plugin: BackchannelPlugin, stored: StoredRequest, failure: EidFailure): Promise<void> {
    await this.#deps.audit.loginEnded(loginInfo(stored, plugin), { failure });
    this.#deps.metrics.backchannelRequests.inc({ eid: plugin.id, operation: operationOf(stored.request), result: resultOf(failure) });
  }

  /** The person the eID identified, kept as an account, or why they cannot be used. */
  async #person(
    plugin: BackchannelPlugin,
    request: BackchannelRequest,
    outcome: Extract<EidOutcome, { person: unknown }>,
    saved: BackchannelAuthenticationRequest,
  ): Promise<{ identity: ReturnType<typeof completeIdentity>; sub: string; amr: string[]; authorizationDetails?: AuthorizationDetail[] } | { failure: EidFailure }> {
    const unusable = (description: string) => ({ failure: { error: 'server_error' as const, description } });
    if (outcome.acr !== plugin.backchannel.acr) return unusable('The eID returned a result the broker could not use.');
    // A signature asked for and not made must never become a plain login.
    if (Boolean(request.authorizationDetails) !== Boolean(outcome.authorizationDetails?.length)) return unusable('The eID returned a result the broker could not use.');
    const identity = completeIdentity(plugin, outcome.person);
    const sub = await this.#deps.accounts.save(identity);
    // The eID checks this too; a different person must never get the hinted person's tokens.
    if (sub !== saved.accountId) return unusable('Another person than the one login_hint names completed the request.');
    return { identity, sub, amr: outcome.amr, ...(outcome.authorizationDetails ? { authorizationDetails: outcome.authorizationDetails } : {}) };
  }
}

/** A request's own id: a hash of its auth_req_id, which is a credential and stays out of keys and logs. */
function requestId(authReqId: string): string {
  return createHash('sha256').update(authReqId).digest('base64url').slice(0, 32);
}

const requestKey = (id: string) => storeKey('backchannelRequest', id);

/** What the person is asked for: a signature (an authorization_details entry of type sign), else a login. */
function operationOf(request: BackchannelRequestInput): 'auth' | 'sign' {
  return request.authorizationDetails?.[0]?.type === 'sign' ? 'sign' : 'auth';
}

function loginInfo(stored: StoredRequest, plugin: EidPlugin): LoginInfo & { plugin: EidPlugin } {
  const { request } = stored;
  return {
    uid: request.id,
    clientId: request.clientId,
    ip: stored.ip,
    plugin,
    ...(request.authorizationDetails ? { transactionType: request.authorizationDetails[0]!.type } : {}),
    backchannel: { operation: operationOf(request), call_initiator: request.callInitiator },
  };
}
