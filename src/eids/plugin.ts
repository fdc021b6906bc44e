import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ZodType } from 'zod';
import type { ConfigIssue } from '../config/load.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { CountryRules } from '../identity/country.js';
import type { EidPerson } from '../identity/identity.js';

/**
 * How the core makes one eID, in two steps. A plugin lives in providers/<id>/, exports this, and
 * is used when the configuration has an `eids.<id>` section. The core never names an eID: it only
 * sees these interfaces.
 *
 * 1. `check`, for every configured eID before any starts: the section's settings, or every
 *    problem in it. The core collects these with the problems of its own sections and of the
 *    clients, and reports them all at once (exit 2) before anything starts.
 * 2. `start`, once every check passed: the eID with its checked settings.
 */
export interface EidPluginFactory<Settings = unknown> {
  /**
   * Checks the eID's `eids.<id>` section (`undefined` when it is empty), starting nothing: no
   * server, connection, timer or log line. Reading the files a setting names (certificates,
   * keys) belongs here, since a missing or unusable one is a problem of the configuration.
   * `checkSection` (the SDK) checks the section against a zod schema.
   */
  check(section: unknown, context: SettingsContext): SettingsCheck<Settings> | Promise<SettingsCheck<Settings>>;
  /** Starts the eID with the settings its check found; the core adds what the check declared (`acrValues`, `clientMetadata`). */
  start(context: PluginContext<Settings>): StartedEid | Promise<StartedEid>;
}

/** What an eID's check is told: its id and the broker's issuer (whether this is a production configuration). */
export interface SettingsContext {
  id: string;
  issuer: string;
}

/**
 * What an eID's check finds: every problem in its section (`path` below `eids.<id>`), or the
 * settings it starts with and what clients may name of it, which the core checks the configured
 * clients against before any eID starts.
 */
export type SettingsCheck<Settings> = CheckedSettings<Settings> | { issues: ConfigIssue[] };

export interface CheckedSettings<Settings> extends Pick<EidPlugin, 'acrValues' | 'clientMetadata'> {
  /** What `start` gets as `context.settings`: the section's values, and what was read from the files it names. */
  settings: Settings;
}

/** A started eID: the plugin without what its check declared, which the core adds. */
export type StartedEid = Omit<EidPlugin, 'acrValues' | 'clientMetadata'>;

/** The contract between the core and one started eID. */
export interface EidPlugin {
  /** The eID's id: lowercase, e.g. se-bankid. Also IdProviderName in the identity. */
  readonly id: string;
  /**
   * The country whose people this eID identifies, with its rules: how its personal numbers are
   * read and checked, their date of birth, and how audit events mask them (see `defineCountry`).
   */
  readonly country: CountryRules;
  /**
   * The acr values this eID serves, most general first (declared by its check). A request for
   * any of them is routed here; the token's acr is the one the plugin reports on completion.
   */
  readonly acrValues: readonly string[];

  /**
   * How a login through this eID runs:
   * - `redirect`: `start` begins the transaction and says where the browser goes (an upstream
   *   eID's authorization endpoint); the upstream comes back through `callback`.
   * - `wait`: the person waits on the plugin's own page, /interaction/<uid>/<id>/ (its `routes`).
   *   The core sends the browser there without calling `start`; the page calls the frontend
   *   JSON API's `start`, which begins the transaction, then waits on `watch` (or `poll`).
   * Either way the first `start` begins the eID's transaction (unless it first asks the person
   * a question: a status NOT_STARTED).
   */
  readonly flow: 'redirect' | 'wait';

  /**
   * The longest one transaction of this eID may take, in seconds: from the start that begins it
   * until its outcome reaches the broker (BankID's allowed_polling_for_minutes and a last
   * collect; an upstream's time to come back to its callback). A login whose eID started within
   * ttl.interaction lives on this long, at most ttl.eid_extension (its value when absent).
   */
  readonly timeLimitSeconds?: number;

  /**
   * Client metadata this eID reads (declared by its check), by field name (lowercase words joined by `_`, e.g.
   * `bankid_requirement`), with its shape. The core accepts these fields on clients from every
   * source, refuses values that do not fit the schema, and hands a client's values to the eID
   * in `LoginRequest.clientMetadata`.
   */
  readonly clientMetadata?: Readonly<Record<string, ZodType>>;

  /**
   * The plugin's folder in the installation (`pluginFolder(import.meta.url)`), when it brings
   * files of its own: `views/<name>.eta`, rendered as template `@<id>/<name>`; `static/<file>`,
   * served at /static/<id>/<file>; and `locales/<lang>.json`, its texts in every language,
   * merged with the broker's (which, like the operator's overrides, win over a plugin's).
   */
  readonly assets?: string;

  /**
   * Folders of static files the plugin's pages share with other eIDs' (a page script kit beside
   * the plugins, providers/shared/static/), by kit name: each is served at /static/kit/<name>/<file>.
   * Plugins naming one kit must name one folder.
   */
  readonly staticKits?: Readonly<Record<string, string>>;

  /**
   * The fields of the frontend JSON API's POST start this eID reads besides `eid`, with their
   * shape. The core refuses a start whose fields do not fit (400 invalid_request naming the
   * field) and hands the values to `start` (`StartOptions.input`). The fields named in `remember`
   * the core keeps for the browser session, in one signed cookie for all eIDs, and hands back at
   * this eID's later logins in that browser (`LoginRequest.remembered`): a choice asked once.
   */
  readonly startInput?: { fields: ZodType<Record<string, unknown>>; remember?: readonly string[] };

  /**
   * Settings the eID's page follows (from its config section), which a custom frontend follows
   * too: GET ui lists them with the eID, as `settings`.
   */
  readonly pageSettings?: Readonly<Record<string, unknown>>;

  /**
   * The RFC 9396 `authorization_details` types this eID serves besides logging in (a signature, a
   * payment, a message shown with the login), each with its strict schema. The core refuses an
   * entry no declaring eID's schema accepts, routes a login that carries one to an eID that
   * declares its type, hands the entry to the eID in `LoginRequest.authorizationDetails`, and
   * expects it back, granted, in the outcome (`authorizationDetails`).
   */
  readonly authorizationDetailsTypes?: Readonly<Record<string, ZodType>>;

  /**
   * The evidence the eID keeps of a finished transaction (BankID's signature and OCSP response),
   * by the eID's own transaction id, for as long as the eID keeps it; undefined when it has none.
   * The admin API serves it.
   */
  evidence?(transactionId: string): Promise<object | undefined>;

  /**
   * In simulator mode, a page where a person plays their side of the eID (an app to scan with and
   * approve in), with what it is in a few words: the embedded default names it at start-up.
   */
  readonly simulatorPage?: { url: string; description: string };

  /** The eID's `custom_identifier`, when configured: it tags the eID's audit events and log lines. */
  readonly customIdentifier?: string;

  /**
   * Resolves when the eID's upstream answers, rejects when it does not (a cheap call, with a time
   * limit). The core runs it through the eID's circuit breaker: while the circuit is open, to
   * find out when the upstream is back; while it is closed, every `circuit_breaker.probe_interval_seconds`,
   * to notice an upstream that went away even when no login reaches it (a browser sent to a dead
   * upstream never comes back to tell).
   */
  probe?(): Promise<void>;

  /**
   * Begins the eID's transaction: where the browser goes next (an upstream eID), an immediate
   * outcome, or — for an eID a person waits on — its first status.
   */
  start(login: LoginRequest, options: StartOptions): Promise<StartResult>;

  /**
   * For eIDs the browser polls (Swedish BankID): the login's current status. A status that
   * ends the login carries its outcome, which the core turns into `redirectTo`. One that arrives
   * while another poll of the login runs here rejects with PollInProgressError.
   */
  poll?(login: LoginRequest, options: { qr: boolean }): Promise<PollStatus>;

  /**
   * For eIDs a person waits on (Swedish BankID): pushes the login's status, and the frames of an
   * animated code, to `watcher` until the returned function is called. The core serves it as
   * the event stream GET /interaction/<uid>/api/events, ends the login when a status carries an
   * outcome, and calls the returned function when the stream closes. It rejects (an HttpError)
   * when there is nothing to watch, before anything is sent.
   */
  watch?(login: LoginRequest, watcher: LoginWatcher): Promise<() => void>;

  /**
   * OpenID Connect CIBA: the eID can reach a person on their own device, named by login_hint,
   * without a browser (Swedish BankID's phone API). Absent: the eID serves no backchannel requests.
   */
  readonly backchannel?: EidBackchannel;

  /**
   * The public keys the upstream uses to verify the broker and to encrypt to it (private_key_jwt,
   * signed request objects, encrypted tokens), served at /eid/<id>/jwks.json.
   */
  jwks?(): Promise<{ keys: object[] }>;

  /**
   * The person gave up: stop the eID's transaction. The core then ends the login with the
   * outcome returned (the failure the person was shown, when they could have tried again), or
   * else with access_denied.
   */
  cancel?(login: LoginRequest): Promise<EidOutcome | undefined>;

  /**
   * Stops at the eID the transaction a `start` just began, by the id that start returned
   * (`StartResult.transactionId`), without reading or writing the store: the core calls it when
   * the start cannot go on after the eID's part succeeded (the store failing at the core's steps
   * that follow), and the start answers 503. Rejects when the eID refuses or cannot be reached.
   */
  stopStarted?(transactionId: string): Promise<void>;

  /**
   * The plugin's own routes, mounted under /interaction/:uid/<id>/ (pages, polling). The core
   * has already checked that the request belongs to a live interaction: `ctx.state.login`.
   */
  routes?(router: Router<LoginState>): void;

  /**
   * The upstream's return to /eid/<id>/callback. It is outside the interaction's cookie path,
   * so the plugin names the interaction it belongs to and the core carries the outcome there.
   * The same answer may arrive again while the first request still exchanges it (a reload, a
   * second delivery): the plugin then names its login without an outcome (`taken`), and the
   * core makes that request follow the first one's outcome.
   */
  callback?(ctx: Context): Promise<CallbackResult>;

  /**
   * The longest one call of `callback` to the upstream may take (the eID's time limit of its
   * calls), in milliseconds; required with `callback`. The upstream's answer cannot be had again
   * once its code is spent, so a shutdown lets a callback in flight finish for this long from
   * the moment it starts to drain, when shutdown.drain_seconds is shorter; and a second return
   * of the same answer waits for the first one's outcome this long at most.
   */
  readonly callbackTimeLimitMs?: number;

  close?(): Promise<void>;
}

/**
 * What an upstream's return comes to: the login it belongs to (its interaction's uid) and its
 * outcome; or, when another request already took the same answer, only the login (`taken`).
 */
export type CallbackResult = { uid: string; outcome: EidOutcome } | { uid: string; taken: true };

/**
 * Backchannel (CIBA) requests, as the core hands them to an eID: the core checks the client,
 * the hint's form and the binding message, keeps the request in oidc-provider's store, answers
 * the client's polls and turns the outcome into tokens; the eID starts the transaction on the
 * person's device and follows it to its end.
 */
export interface EidBackchannel {
  /** The acr value of a person identified this way (also what a client names in acr_values to pick this eID). */
  readonly acr: string;
  /**
   * Checks a request before anything is sent anywhere (pure: it may run on every instance): the
   * person the login_hint names, as the key the eID's identities carry (PersonalNumber), or why
   * the request cannot be served, in plain words for the client's developers (invalid_request).
   */
  check(request: BackchannelRequestInput): { personKey: string } | { problem: string };
  /**
   * Starts the transaction on the person's device: its id (BankID's orderRef) for the audit, or
   * the failure that ended it at once (BankID refusing, a second order for the person).
   */
  start(request: BackchannelRequest): Promise<{ transactionId: string } | { failure: EidFailure }>;
  /**
   * Follows the request's transaction until it ends, and then calls `ended` once with its
   * outcome. Any instance may follow one (several may at once): the eID makes sure its upstream
   * is asked at most as often as one follower would. Resolves with a function that stops following.
   */
  follow(request: BackchannelRequest, ended: (outcome: EidOutcome) => void): Promise<() => void>;
  /**
   * Stops the request's transaction: the request expired before it ended. A transaction left
   * running would let the person still confirm or sign on their device, with no one to receive it.
   */
  cancel(request: BackchannelRequest): Promise<void>;
}

export interface BackchannelRequestInput {
  clientId: string;
  /** The person, as the client names them (Swedish BankID: a personal number). */
  loginHint: string;
  /** binding_message: shown to the person with the request. */
  message?: string;
  /**
   * The request's authorization_details (RFC 9396), already checked against the eID's declared
   * types: set when the client asks for a signature (or a message) rather than a plain login. The
   * eID grants them back, with its evidence, in the outcome (`authorizationDetails`).
   */
  authorizationDetails?: AuthorizationDetail[];
  /** Who started the phone call the request belongs to: the person (`user`) or the client's organisation (`RP`). */
  callInitiator: 'user' | 'RP';
  clientMetadata?: Record<string, unknown>;
}

export interface BackchannelRequest extends BackchannelRequestInput {
  /** The request's id, stable across instances (not the auth_req_id, which is a credential): for keys and audit. */
  id: string;
  /** When the request expires (epoch ms by the store's clock, Store.now, which every instance reads alike): the eID gives up following by then. */
  expiresAt: number;
}

/** What `start` receives. `settings` is what the eID's check made of its `eids.<id>` section. */
export interface PluginContext<Settings = unknown> {
  id: string;
  settings: Settings;
  /** The broker's public URL, for building callback URLs. */
  issuer: string;
  /**
   * The plugin's own namespace of the shared store: every key and channel it names is kept under
   * `<id>:` (src/store/keys.ts), out of reach of the core's keys and of every other plugin.
   */
  store: Store;
  log: Logger;
  /** The broker's pages and texts (views/), for a plugin's own pages and messages. */
  views: PageRenderer;
  /** Metrics and the circuit breaker around the eID's upstream calls; certificate expiry. */
  telemetry: EidTelemetry;
  /**
   * Aborted when the broker starts to shut down. A long-lived response (an event stream) ends
   * on it, so that the drain is not held up; `close()` follows once requests in flight are done.
   */
  draining: AbortSignal;
}

/**
 * What a plugin reports to operators. Every call to its upstream goes through `run`, so all eIDs
 * have the same metrics (neb_eid_request_*) and the same circuit breaker.
 */
export interface EidTelemetry {
  /**
   * Runs one operation of the eID — a call to its upstream (start, collect, token, userinfo…) or
   * a step of its own (callback) — counted while in flight, as a success or a failure by reason,
   * and timed. An upstream call (the default) also goes through the eID's circuit breaker: while
   * the circuit is open it fails at once with CircuitOpenError, without calling.
   */
  run<T>(operation: string, work: () => Promise<T>, options?: RunOptions<T>): Promise<T>;

  /**
   * A certificate the eID authenticates with (BankID's RP certificate): its expiry becomes a
   * metric, and within 30 days of it the broker warns in its log every day.
   */
  certificate(name: string, notAfter: Date): void;
}

export interface RunOptions<T> {
  /** Whether `work` calls the upstream, through the circuit breaker; default true. */
  upstream?: boolean;
  /**
   * How a thrown error counts: its reason (for the failure counter), and whether it means the
   * upstream is failing (unreachable, timed out, 5xx), which counts toward opening the circuit.
   * An error the upstream answered on purpose (a 4xx, a refused token) does not. Default: every
   * error is an upstream failure, reason `error`.
   */
  classify?(error: unknown): { reason: string; upstreamFailure: boolean };
  /** A result that counts as a failure all the same (an eID outcome that is a failure): its reason. */
  failureOf?(result: T): string | undefined;
}


/** The part of the broker's views a plugin uses. */
export interface PageRenderer {
  render(ctx: Context, template: string, data: Record<string, unknown>): void;
  translator(locale: string): (key: string, vars?: Record<string, string>, fallback?: string) => string;
}

/** One login as the plugin sees it. */
export interface LoginRequest {
  /** The interaction's uid: the plugin's pages live under /interaction/<uid>/<id>/. */
  uid: string;
  /** The acr value asked for, when the client asked for one of this eID's. */
  acr?: string;
  clientId: string;
  loginHint?: string;
  /**
   * Whether the client vouched for `loginHint`: it came in a signed request object or in a pushed
   * request from a client that authenticated, and the client is not one anyone registered (open
   * registration), which anyone could do to push any hint. Anyone can write a plain URL with any client's id
   * and anyone's identifier in it, so an unproven hint may only narrow who this login accepts
   * once the eID has said who the person is; it must never reach the eID as a condition that
   * acts on that person's other transactions there (a second order for them, say).
   */
  loginHintProven?: boolean;
  locale: string;
  /** The person's IP address (through trusted proxies only) and browser. */
  ip: string;
  userAgent: string;
  /** A hash of a long-lived random cookie: the same browser across logins, for eIDs' risk checks. */
  browserId: string;
  /**
   * What this browser chose at an earlier start of this eID in the browser session (the fields
   * of `startInput.remember`), checked against `startInput.fields` again: a hint, which the
   * browser may have left out.
   */
  remembered?: Readonly<Record<string, unknown>>;
  /** The client's values of the metadata fields this eID declares (`EidPlugin.clientMetadata`), validated. */
  clientMetadata?: Record<string, unknown>;
  /**
   * The RFC 9396 entries the client sent (one, of a type this eID declares), already checked
   * against the type's schema: what the person is to sign, approve or be shown.
   */
  authorizationDetails?: AuthorizationDetail[];
}

/** One RFC 9396 `authorization_details` entry: its `type` and the type's own fields. */
export interface AuthorizationDetail {
  type: string;
  [field: string]: unknown;
}

export interface StartOptions {
  /** The start request's fields this eID declares (`EidPlugin.startInput`), checked; empty without. */
  input?: Readonly<Record<string, unknown>>;
}

/**
 * `transactionId`: the eID's own id of the transaction this start began (BankID's orderRef), for
 * the audit event. Every start begins the transaction and is audited as started, except one
 * answering status NOT_STARTED (the eID first asks the person a question).
 */
export type StartResult = ({ redirectTo: string } | { outcome: EidOutcome } | { status: PollStatus }) & { transactionId?: string };

/** A polled login's status, as the frontend JSON API answers it (the core adds redirectTo). */
export interface PollStatus {
  status: 'NOT_STARTED' | 'IN_PROGRESS' | 'ERROR' | 'COMPLETE' | 'CANCEL';
  /** The eID's own code for the status (BankID hint code). */
  hintCode?: string;
  /** Which message to show (BankID recommended-message id, e.g. RFA1), and it in the person's language. */
  messageCode?: string;
  message?: string;
  /**
   * The eID's own fields for its page (BankID's qrCode, autoStartToken, launchUrl): the core
   * passes them through, at the top level of the JSON API's answer, without reading them.
   */
  payload?: Record<string, unknown>;
  /**
   * With an ERROR or CANCEL: trying again in the same login may well work. The login is not
   * over yet: the person starts again (`start`), or goes back (`cancel`), which ends it with
   * this status's outcome.
   */
  retry?: boolean;
  /** Set when the status ends the login (or, with `retry`, would end it when the person goes back). */
  outcome?: EidOutcome;
}

/** What a page watching a waiting login is sent (see `EidPlugin.watch`). */
export interface LoginWatcher {
  /** A status that changed; one with an outcome ends the login. */
  status(status: PollStatus): void;
  /**
   * The next frame of an animated code: `payload` is what the page draws (BankID's QR text),
   * `sequence` counts the frames. Frames are idempotent: one the connection cannot take now is dropped.
   */
  frame(payload: string, sequence: number): void;
  /** The transaction being watched is gone (cancelled, replaced by a new start): the page asks again. */
  end(): void;
}

/**
 * How an eID login ended. A login that carried `authorizationDetails` succeeds only with them back
 * as granted (`authorizationDetails`): each entry as the person saw it, enriched with the eID's
 * evidence (RFC 9396 §7.1). They reach the client in the token response and the ID token.
 */
export type EidOutcome = { person: EidPerson; acr: string; amr: string[]; authorizationDetails?: AuthorizationDetail[] } | { failure: EidFailure };

/**
 * A failure the client will see as an OIDC error at its redirect_uri:
 * - access_denied: the person cancelled, declined, or did not finish in time;
 * - eid_doesnt_exist: the person has no usable eID of this kind;
 * - insufficient_scope: the person does not meet a requirement (e.g. the level asked for);
 * - server_error: the eID or the broker failed;
 * - invalid_request: the client asked for something this eID cannot do (e.g. a malformed login_hint).
 * `description` is plain words for the client's developers: never a secret or personal number.
 */
export interface EidFailure {
  error: 'access_denied' | 'eid_doesnt_exist' | 'insufficient_scope' | 'server_error' | 'invalid_request';
  description: string;
  /**
   * Set when the login did not fail but the person cancelled it, or it expired before they
   * finished: audited as EID_100004 (cancelled or expired) rather than EID_100003 (failed).
   */
  ending?: 'cancelled' | 'expired';
  /** The eID's own id of the transaction that ended (BankID's orderRef), for the audit event. */
  transactionId?: string;
}

/** What the core puts on ctx.state for plugin routes. */
export interface LoginState {
  login: {
    uid: string;
    request: LoginRequest;
    /**
     * Ends the login with this outcome. Returns where the browser goes next: back to the
     * client, with a code or with the failure as an OIDC error.
     */
    finish(outcome: EidOutcome): Promise<string>;
  };
}
