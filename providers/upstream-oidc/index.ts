import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import { z } from 'zod';
import {
  checkSection,
  CircuitOpenError,
  consumeOnce,
  HttpError,
  isProductionConfiguration,
  readBody,
  simulatorIssues,
  StoreUnavailableError,
  type CallbackResult,
  type ConfigIssue,
  type CountryRules,
  type EidFailure,
  type EidOutcome,
  type EidPluginFactory,
  type EidTelemetry,
  type Logger,
  type LoginRequest,
  type PluginContext,
  type SectionCheck,
  type StartedEid,
} from '../../src/eids/sdk.js';
import { classifyUpstreamError, loggable, UpstreamClient, UpstreamError, type UpstreamClientOptions, type UpstreamResult } from './client.js';
import { UPSTREAM_ERRORS, upstreamErrorRow, type UpstreamErrorCause, type UpstreamErrorRow } from './error-table.js';
import { generatedUpstreamKeys, readUpstreamKeys, type UpstreamKeys } from './keys.js';
import type { UpstreamSimulator } from './simulator.js';

/**
 * `eids.<id>` for an upstream OpenID Connect eID. Each eID adds its own keys (`options`).
 *
 * - mode: production | test (the eID's official issuer, where it has one) | custom (`issuer`) | simulator.
 * - issuer: the upstream's issuer identifier (its discovery document is read from it).
 * - client_id, and client_secret or private_jwks (a JWKS file of private keys: one `use: sig`
 *   for private_key_jwt and request objects, and `use: enc` ones for responses encrypted to us).
 * - token_endpoint_auth_method: defaults to client_secret_basic with a secret, else private_key_jwt.
 * - scopes: replaces the eID's default scopes; extra_params: added to every authorization request.
 * - timeout: milliseconds for each call to the upstream.
 * - custom_identifier: tags the eID's audit events and log lines.
 */
const baseSchema = z.object({
  mode: z.enum(['production', 'test', 'custom', 'simulator']).default('production'),
  issuer: z.url().optional(),
  client_id: z.string().min(1).optional(),
  client_secret: z.string().min(1).optional(),
  private_jwks: z.string().min(1).optional(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).optional(),
  scopes: z.array(z.string().min(1)).min(1).optional(),
  extra_params: z.record(z.string(), z.string()).default({}),
  timeout: z.number().int().positive().default(10_000),
  custom_identifier: z.string().max(100).optional(),
  allow_simulator_in_production: z.boolean().default(false),
  simulator: z.object({ port: z.number().int().min(0).max(65535).default(0) }).strict().prefault({}),
});

type BaseSettings = z.output<typeof baseSchema>;

/** An upstream eID's section: the keys every one takes, and its own (`options`). */
type UpstreamSettings<O extends z.ZodRawShape> = BaseSettings & z.output<z.ZodObject<O>>;

type TokenEndpointAuthMethod = UpstreamClientOptions['tokenEndpointAuthMethod'];

/**
 * An upstream eID's checked section: its values; how the broker authenticates to the upstream;
 * the upstream's issuer and the broker's client id there (absent in simulator mode, where the
 * simulator names them); and the keys of `private_jwks`, read (absent when they are generated).
 */
export type UpstreamSetup<Settings> = Settings & {
  method: TokenEndpointAuthMethod;
  upstream?: { issuer: string; clientId: string };
  configuredKeys?: UpstreamKeys;
};

/** How an upstream's protocol bends OpenID Connect, with the defaults of this eID. */
export interface UpstreamProtocol {
  requestObject: UpstreamClientOptions['requestObject'];
  encryptedResponses: boolean;
  userinfo: UpstreamClientOptions['userinfo'];
  /** This eID only authenticates with private_key_jwt (FTN). */
  privateKeyJwtOnly?: boolean;
  idTokenSigningAlg?: string;
}

/** One upstream eID, as data and a few functions: everything else is shared. */
export interface UpstreamEidDefinition<Options extends z.ZodRawShape> {
  country: CountryRules;
  acrValues: readonly string[];
  /** The eID's folder, for its texts (its name on the picker): `pluginFolder(import.meta.url)`. */
  assets?: string;
  /** Issuers for mode production and test, where the eID has an official one. */
  officialIssuers?: { production: string; test: string };
  options: Options;
  protocol: UpstreamProtocol;
  scopes(settings: BaseSettings & z.output<z.ZodObject<Options>>): string[];
  /** The eID's own authorization parameters for one login (acr, login_hint, language…). */
  authorizationParams(login: LoginRequest, settings: BaseSettings & z.output<z.ZodObject<Options>>): Record<string, string>;
  /**
   * The person (or a failure) from the validated claims. `requestedAcr` is ours, when asked. It
   * may call the upstream again first (`result.fetchResource` with the access token, e.g. an
   * eID's own profile endpoint); what it throws ends the login like a failed token call.
   */
  outcome(result: UpstreamResult, requestedAcr: string | undefined): EidOutcome | Promise<EidOutcome>;
  /**
   * The eID's own `error` codes in its authorization responses, with what the client gets for
   * each and who the login ended by; they add to (or replace rows of) the OAuth codes every
   * upstream shares (UPSTREAM_ERRORS).
   */
  errors?: Readonly<Record<string, UpstreamErrorRow>>;
  /**
   * Parameters kept in the log line of a login the upstream ended with an error, shortened like
   * error_description: from the upstream's return, or else from the authorization request the
   * broker sent (a trace id of the broker's that the upstream links to its own logs, as Bank iD's
   * `trace_id`) — what the upstream's support asks for.
   */
  logParameters?: readonly string[];
  /**
   * Response headers of every call to the upstream kept in a log line with the call's path and
   * status: the upstream's own id of the call, which its support asks for (Bank iD's traceId).
   */
  logHeaders?: readonly string[];
  /** Starts this eID's simulator with the broker registered as its client. */
  simulator(client: SimulatorRegistration): Promise<UpstreamSimulator>;
}

export interface SimulatorRegistration {
  client_id: string;
  client_secret?: string;
  redirect_uri: string;
  jwks: UpstreamKeys['publicJwks'];
  token_endpoint_auth_method: UpstreamClientOptions['tokenEndpointAuthMethod'];
  port: number;
}

/** One login waiting for the upstream: bound to its interaction, used once. */
interface PendingLogin {
  uid: string;
  nonce: string;
  codeVerifier: string;
  acr?: string;
  /** The authorization request's parameters named in `logParameters`. */
  sent?: Record<string, string>;
}

/** How long a login may stay at the upstream: its answer after this finds no state, and is refused. */
const PENDING_TTL_SECONDS = 15 * 60;

/** Errors of a token that failed validation (openid-client's and jose's), as opposed to a network failure. */
const isRejectedResponse = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('OAUTH_') || code.startsWith('ERR_J'));
};

/** What the log keeps of an upstream's error answer: its code, its description and the eID's named parameters, each shortened. */
function upstreamErrorFields(err: UpstreamError, logParameters: readonly string[], sent: Readonly<Record<string, string>> = {}): Record<string, unknown> {
  const description = err.parameters.get('error_description');
  // Nested, so that an upstream's `traceId` does not take the place of the broker's own in the line.
  const named = logParameters.flatMap((name) => {
    const value = err.parameters.get(name) ?? sent[name];
    return value ? [[name, loggable(value)]] : [];
  });
  return {
    upstreamError: loggable(err.error),
    ...(description ? { upstreamErrorDescription: loggable(description) } : {}),
    ...(named.length ? { upstreamParameters: Object.fromEntries(named) } : {}),
  };
}

/** Where a login's answer failed: in the exchange with the upstream, or in the eID's `outcome` (its claim mapping). */
type Stage = 'exchange' | 'mapping';

/** What an outcome kind needs of the login it ended: the eID's error table and the names and values its log keeps. */
interface FailedLogin {
  errorTable: Readonly<Record<string, UpstreamErrorRow>>;
  logParameters: readonly string[];
  sent?: Readonly<Record<string, string>>;
}

/** How one kind of failed answer is told apart, logged, and told to the client. */
interface OutcomeKind {
  kind: string;
  matches(err: unknown, stage: Stage, login: FailedLogin): boolean;
  level: 'info' | 'warn' | 'error';
  message: string;
  fields(err: unknown, login: FailedLogin): Record<string, unknown>;
  failure(err: unknown, login: FailedLogin): EidFailure;
  /** The eID is failing: its circuit breaker counts the answer as a failed call, as it counts a 5xx. */
  outage?: true;
}

/** Failures thrown by calls to the upstream that an eID's `outcome` made (result.fetchResource), as opposed to its own. */
const upstreamCallFailures = new WeakSet<object>();

const reasonOf = (err: unknown) => ({ reason: err instanceof Error ? err.message : String(err) });

/** The first frame of a stack in the broker's own code: not a built-in (String) nor a dependency's. */
const ownFrame = (stack: string) => stack.split('\n').map((line) => line.trim()).find((line) => line.startsWith('at ') && !/<anonymous>|\(node:|node_modules/.test(line));

/**
 * Where in the code the eID's mapping failed, and the error's class: not its message, which may
 * quote what it read (a claim's value, JSON.parse's snippet of its text), personal data.
 */
const faultOf = (err: unknown) => ({ faultType: err instanceof Error ? err.name : typeof err, faultAt: err instanceof Error && err.stack ? ownFrame(err.stack) : undefined });
const fixed = (description: string) => (): EidFailure => ({ error: 'server_error', description });

/** An upstream's error answer whose code's row (the eID's error table) says the login ended by `cause`. */
function endedBy(cause: UpstreamErrorCause, kind: Pick<OutcomeKind, 'kind' | 'level' | 'message' | 'outage'>): OutcomeKind {
  const rowOf = (err: UpstreamError, login: FailedLogin) => upstreamErrorRow(login.errorTable, err.error);
  return {
    ...kind,
    matches: (err, _stage, login) => err instanceof UpstreamError && rowOf(err, login).cause === cause,
    fields: (err, login) => upstreamErrorFields(err as UpstreamError, login.logParameters, login.sent),
    failure: (err, login) => rowOf(err as UpstreamError, login).failure,
  };
}

/**
 * Every way a login's answer can fail, first match wins: each kind its own log line and its own
 * words to the client, so that an answer the broker could not read is never told as an upstream
 * out of reach. The eID's mapping failing on an answer that passed validation is the broker's
 * fault (a claim missing or shaped unlike the mapping expects): an error in the log.
 */
const OUTCOME_KINDS: readonly OutcomeKind[] = [
  endedBy('person', { kind: 'ended', level: 'info', message: 'upstream ended the login' }),
  endedBy('outage', { kind: 'outage', level: 'warn', message: 'upstream said it is failing', outage: true }),
  endedBy('broker', { kind: 'refused', level: 'error', message: "upstream refused the broker's request: check the eID's configuration and the broker's registration there" }),
  {
    kind: 'paused',
    matches: (err) => err instanceof CircuitOpenError,
    level: 'warn',
    message: 'upstream failed repeatedly: its circuit is open',
    fields: () => ({}),
    failure: fixed('The eID failed repeatedly and is paused for a moment.'),
  },
  {
    kind: 'unmapped',
    matches: (err, stage) => stage === 'mapping' && !(err instanceof Object && upstreamCallFailures.has(err)),
    level: 'error',
    message: "the eID's mapping failed on the upstream's validated answer",
    fields: faultOf,
    failure: fixed("The broker could not read the person's details in the eID's answer."),
  },
  {
    kind: 'rejected',
    // A security event: a forged, replayed or misdirected response, or a misconfigured key.
    matches: (err) => !classifyUpstreamError(err).upstreamFailure && isRejectedResponse(err),
    level: 'warn',
    message: 'upstream response failed validation',
    fields: (err) => ({ security: true, ...reasonOf(err), code: (err as { code?: string }).code }),
    failure: fixed('The answer from the eID failed validation.'),
  },
  {
    kind: 'unreachable',
    matches: () => true,
    level: 'warn',
    message: 'upstream unreachable',
    fields: reasonOf,
    failure: fixed('The eID could not be reached in time.'),
  },
];

/**
 * The failure a login's answer ends with, `err` having been thrown at `stage`; logged by its
 * kind, and an outage the upstream reported counted by the eID's circuit.
 */
async function failedOutcome(err: unknown, stage: Stage, login: FailedLogin, log: Logger, telemetry: EidTelemetry): Promise<EidOutcome> {
  const row = OUTCOME_KINDS.find((candidate) => candidate.matches(err, stage, login))!;
  log[row.level]({ outcomeKind: row.kind, ...row.fields(err, login) }, row.message);
  if (row.outage) await countedAsFailedCall(telemetry, err as UpstreamError);
  return { failure: row.failure(err, login) };
}

/**
 * An outage the upstream reported in its answer (through the browser, so no call of the
 * broker's failed) goes through the eID's circuit as the failed call it stands for, operation
 * `authorization`: enough of them pause the eID, as 5xx answers to its calls do. Its circuit
 * already open refuses it, which is the same view.
 */
async function countedAsFailedCall(telemetry: EidTelemetry, err: UpstreamError): Promise<void> {
  await telemetry.run('authorization', () => Promise.reject(err), { classify: () => ({ reason: err.error, upstreamFailure: true }) }).catch(() => undefined);
}

/** `result` whose fetchResource marks what it throws as a call to the upstream failing (upstreamCallFailures). */
function markingCallFailures(result: UpstreamResult): UpstreamResult {
  const fetchResource: UpstreamResult['fetchResource'] = (operation, url) =>
    result.fetchResource(operation, url).catch((err: unknown) => {
      if (err instanceof Object) upstreamCallFailures.add(err);
      throw err;
    });
  return { ...result, fetchResource };
}

/** The upstream's issuer: the eID's official one for mode production and test, where it has one, else `issuer`; undefined with a problem. */
function issuerOfUpstream<O extends z.ZodRawShape>(definition: UpstreamEidDefinition<O>, settings: BaseSettings, issues: ConfigIssue[]): string | undefined {
  if (settings.mode === 'production' || settings.mode === 'test') {
    const official = definition.officialIssuers?.[settings.mode];
    if (official) return official;
  }
  if (!settings.issuer) issues.push({ path: ['issuer'], message: 'is required (this eID is reached through a broker of your choice)' });
  return settings.issuer;
}

/**
 * Checks an upstream eID's section (`issuer` is the broker's): the rules between its keys that
 * the schema cannot say, a simulator only outside production, and `private_jwks`, read and imported.
 */
async function checkUpstreamSection<O extends z.ZodRawShape>(
  definition: UpstreamEidDefinition<O>,
  schema: z.ZodType<UpstreamSettings<O>>,
  section: unknown,
  issuer: string,
): Promise<SectionCheck<UpstreamSetup<UpstreamSettings<O>>>> {
  const checked = checkSection(schema, section ?? {});
  if ('issues' in checked) return checked;
  const settings = checked.data;
  const simulated = settings.mode === 'simulator';
  const issues = simulatorIssues(settings, issuer);
  const method: TokenEndpointAuthMethod = definition.protocol.privateKeyJwtOnly
    ? 'private_key_jwt'
    : (settings.token_endpoint_auth_method ?? (settings.client_secret || simulated ? 'client_secret_basic' : 'private_key_jwt'));
  if (method !== 'private_key_jwt' && !settings.client_secret && !simulated) {
    issues.push({ path: ['client_secret'], message: `is required with token_endpoint_auth_method ${method}` });
  }
  if (!simulated && !settings.client_id) issues.push({ path: ['client_id'], message: 'is required unless mode is simulator' });
  const upstream = simulated ? undefined : issuerOfUpstream(definition, settings, issues);
  if (!settings.private_jwks && isProductionConfiguration(issuer)) issues.push({ path: ['private_jwks'], message: 'is required in a production configuration' });
  const configuredKeys = settings.private_jwks ? await readUpstreamKeys(settings.private_jwks, issues) : undefined;
  if (issues.length) return { issues };
  return {
    data: {
      ...settings,
      method,
      ...(upstream && settings.client_id ? { upstream: { issuer: upstream, clientId: settings.client_id } } : {}),
      ...(configuredKeys ? { configuredKeys } : {}),
    },
  };
}

/**
 * Builds the plugin of an upstream OpenID Connect eID from its definition: the login goes to
 * the upstream with state, nonce and PKCE bound to the interaction, comes back to
 * /eid/<id>/callback, and is validated before anything in it is believed.
 */
export function upstreamEid<O extends z.ZodRawShape>(definition: UpstreamEidDefinition<O>): EidPluginFactory<UpstreamSetup<UpstreamSettings<O>>> {
  const schema = baseSchema.extend(definition.options).strict() as unknown as z.ZodType<UpstreamSettings<O>>;
  return {
    async check(section, { issuer }) {
      const checked = await checkUpstreamSection(definition, schema, section, issuer);
      return 'issues' in checked ? checked : { settings: checked.data, acrValues: definition.acrValues };
    },
    start: (context) => startUpstreamEid(definition, context),
  };
}

/** Starts an upstream eID with its checked setup: its keys, its simulator in simulator mode, and the client of the upstream. */
async function startUpstreamEid<O extends z.ZodRawShape>(
  definition: UpstreamEidDefinition<O>,
  { id, settings, issuer: brokerIssuer, store, log: pluginLog, telemetry }: PluginContext<UpstreamSetup<UpstreamSettings<O>>>,
): Promise<StartedEid> {
  const errorTable: Readonly<Record<string, UpstreamErrorRow>> = { ...UPSTREAM_ERRORS, ...definition.errors };
  const log = settings.custom_identifier ? pluginLog.child({ custom_identifier: settings.custom_identifier }) : pluginLog;
  const production = isProductionConfiguration(brokerIssuer);
  const simulated = settings.mode === 'simulator';
  const keys = settings.configuredKeys ?? (await generatedUpstreamKeys({ id, store, log, simulated }));
  const redirectUri = `${brokerIssuer}/eid/${id}/callback`;
  const { method } = settings;

  let simulator: UpstreamSimulator | undefined;
  let upstreamIssuer: string;
  let clientId: string;
  let clientSecret = settings.client_secret;
  if (!settings.upstream) {
    clientId = 'nordic-eid-broker';
    clientSecret = randomBytes(24).toString('base64url');
    simulator = await definition.simulator({
      client_id: clientId,
      ...(method === 'private_key_jwt' ? {} : { client_secret: clientSecret }),
      redirect_uri: redirectUri,
      jwks: keys.publicJwks,
      token_endpoint_auth_method: method,
      port: settings.simulator.port,
    });
    upstreamIssuer = simulator.issuer;
    log.info({ issuer: upstreamIssuer }, `simulated ${id} started`);
  } else {
    ({ issuer: upstreamIssuer, clientId } = settings.upstream);
  }

  const client = new UpstreamClient({
    issuer: upstreamIssuer,
    clientId,
    ...(clientSecret ? { clientSecret } : {}),
    tokenEndpointAuthMethod: method,
    keys,
    requestObject: definition.protocol.requestObject,
    idTokenSigningAlg: definition.protocol.idTokenSigningAlg ?? 'RS256',
    encryptedResponses: definition.protocol.encryptedResponses,
    userinfo: definition.protocol.userinfo,
    timeoutMs: settings.timeout,
    allowHttp: simulated || new URL(upstreamIssuer).protocol === 'http:' && !production,
    log,
    ...(definition.logHeaders ? { logHeaders: definition.logHeaders } : {}),
    telemetry,
  });
  const pendingKey = (state: string) => `state:${state}`;

  async function authorize(login: LoginRequest) {
    const state = oidc.randomState();
    const own = { ...definition.authorizationParams(login, settings), ...settings.extra_params };
    const sent = Object.fromEntries((definition.logParameters ?? []).flatMap((name) => (own[name] ? [[name, own[name]]] : [])));
    const pending: PendingLogin = {
      uid: login.uid,
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      ...(login.acr ? { acr: login.acr } : {}),
      ...(Object.keys(sent).length ? { sent } : {}),
    };
    await store.set(pendingKey(state), JSON.stringify(pending), PENDING_TTL_SECONDS);
    const url = await client.authorizationUrl({
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: (settings.scopes ?? definition.scopes(settings)).join(' '),
      state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      ...own,
    });
    return { redirectTo: url.href };
  }

  /** Sends the browser to the upstream; measured as `start` (discovery, on first use, is an upstream call of its own). */
  const start = (login: LoginRequest) => telemetry.run('start', () => authorize(login), { upstream: false, classify: classifyUpstreamError });

  /** The authorization response as a URL, whether it came as a query or as a form post. */
  async function responseUrl(ctx: Context): Promise<URL> {
    const url = new URL(redirectUri);
    const params = ctx.method === 'POST' ? await readBody(ctx) : ctx.query;
    for (const [name, value] of Object.entries(params)) if (typeof value === 'string') url.searchParams.set(name, value);
    return url;
  }

  /** The upstream's answer, measured as `callback`: a failure outcome counts as a failure by its error. */
  const callback = (ctx: Context) =>
    telemetry.run('callback', () => receive(ctx), {
      upstream: false,
      classify: (err) => ({ reason: err instanceof HttpError ? err.error : 'error', upstreamFailure: false }),
      failureOf: (result) => ('outcome' in result && 'failure' in result.outcome ? result.outcome.failure.error : undefined),
    });

  async function receive(ctx: Context): Promise<CallbackResult> {
    const url = await responseUrl(ctx);
    const state = url.searchParams.get('state') ?? '';
    const stored = state ? await store.get(pendingKey(state)) : undefined;
    // The consume lets exactly one callback exchange the code, so a replayed response exchanges
    // nothing; one whose answer Redis lost is given back, so that the page's Try again is let through.
    const consumed = stored ? await consumeOnce(store, pendingKey(state), Math.floor(Date.now() / 1000), log) : 'missing';
    if (!stored || consumed === 'missing') {
      log.warn({ reason: 'unknown state' }, 'upstream response refused');
      // The person sees why in their words (another browser's answer, one long expired), not the client blamed.
      throw new HttpError(400, 'invalid_request', 'This answer from the eID does not belong to a login in progress.', undefined, { during: 'eid_return' });
    }
    const pending = JSON.parse(stored.value) as PendingLogin;
    if (consumed === 'already') {
      // A reload, or the answer delivered twice: its code is another request's to exchange, whose outcome the core follows.
      log.info({ reason: 'state already used' }, 'upstream response taken by an earlier return of the same login');
      return { uid: pending.uid, taken: true };
    }
    return { uid: pending.uid, outcome: await outcomeOf(url, state, pending, log) };
  }

  /** The login's outcome from its answer: the exchange with the upstream, then the eID's mapping; a failure by its kind (OUTCOME_KINDS). */
  async function outcomeOf(url: URL, state: string, pending: PendingLogin, eidLog: Logger): Promise<EidOutcome> {
    const login: FailedLogin = { errorTable, logParameters: definition.logParameters ?? [], ...(pending.sent ? { sent: pending.sent } : {}) };
    let stage: Stage = 'exchange';
    try {
      const result = await client.complete(url, { state, nonce: pending.nonce, codeVerifier: pending.codeVerifier });
      stage = 'mapping';
      return await definition.outcome(markingCallFailures(result), pending.acr);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      return failedOutcome(err, stage, login, eidLog, telemetry);
    }
  }

  const plugin: StartedEid = {
    id,
    country: definition.country,
    flow: 'redirect',
    // The upstream's answer is taken while its state is kept.
    timeLimitSeconds: PENDING_TTL_SECONDS,
    ...(definition.assets ? { assets: definition.assets } : {}),
    ...(settings.custom_identifier ? { customIdentifier: settings.custom_identifier } : {}),
    start,
    callback,
    // Each call to the upstream is bounded by `timeout`: the one in flight gets all of it.
    callbackTimeLimitMs: settings.timeout,
    probe: () => client.probe(),
    jwks: async () => keys.publicJwks,
    async close() {
      await simulator?.close();
    },
  };
  return plugin;
}
