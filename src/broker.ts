import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa, { type Context } from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import { AuditLog } from './audit/audit.js';
import { observeProvider } from './audit/provider-events.js';
import { ActiveLogins } from './metrics/active-logins.js';
import { redisStreamSink, type AuditSink } from './audit/sinks.js';
import { logClientSources } from './clients/registration.js';
import { createClientRules } from './clients/rules.js';
import { ClientStore } from './clients/store.js';
import { InitialAccessTokens } from './clients/initial-access-tokens.js';
import { isProductionConfiguration } from './config/environment.js';
import { ConfigError } from './config/load.js';
import type { BrokerConfig } from './config/schema.js';
import { issuerOf, type CheckedConfig } from './config/check.js';
import { cutShort, loginLifetime } from './login/lifetime.js';
import { createRegistry, type EidRegistry } from './eids/registry.js';
import { EidOperations } from './eids/telemetry.js';
import { HEALTH_PATHS, healthRoutes } from './health/routes.js';
import { Drain } from './http/drain.js';
import { answerParserErrors, errorBoundary, notFound, plainOptions, READ_METHODS, storeGuard, type MethodsAt } from './http/errors.js';
import { DISCOVERY_PATHS, providerEndpointMethods, providerPathSpelling } from './oidc/endpoint-methods.js';
import { corsOnOwnRefusals } from './http/cors-refusals.js';
import { addressedToIssuer, lacksHost } from './http/issuer-origin.js';
import { bodyLimit, bodyRefusal } from './http/body.js';
import { boundedParameters, tooLongParameter } from './http/parameters.js';
import { listenOn } from './http/server.js';
import { securityHeaders, securityHeadersFor } from './http/security-headers.js';
import { chain, onlyWhere, routersUnder } from './http/scoped.js';
import { staticFileTable, staticFiles, staticKitsOf } from './http/static.js';
import { trace } from './http/trace.js';
import { Views } from './http/views.js';
import { createLogger, type Logger } from './log.js';
import { isPoll } from './login/api.js';
import { answerKeptPolls } from './login/direct-poll.js';
import { createFinisher } from './login/finish.js';
import { OpenEventStreams } from './login/event-streams.js';
import { LOGIN_PATHS, loginRoutes, type InteractionUrl } from './login/routes.js';
import { FormTokens } from './login/submissions.js';
import { METRICS_PATH, metricsRoute, startMetricsServer, type MetricsServer } from './metrics/endpoint.js';
import { Metrics } from './metrics/metrics.js';
import { Accounts } from './oidc/accounts.js';
import { sharedSecret, sharedSigningKeys, sharedValue } from './oidc/keys.js';
import { clientMetadata, createProvider } from './oidc/provider.js';
import { Redemptions } from './oidc/redemptions.js';
import { postedRequestsAsGet } from './oidc/posted-requests.js';
import { SealedForms } from './oidc/sealed-forms.js';
import { Backchannel } from './oidc/ciba.js';
import { Subjects } from './oidc/subject.js';
import { EventLoopMonitor, loadShedding, overloaded } from './resilience/load-shedding.js';
import { RateLimiter, rateLimits } from './resilience/rate-limit.js';
import { createStore, type Store } from './store/index.js';
import { StoreUnavailableError } from './store/store.js';
import { WebhookDeliveries } from './webhooks/deliveries.js';
import { WebhookEndpoints } from './webhooks/endpoints.js';
import { Sealer, sealedStore } from './store/sealed-store.js';
import { KeyNames } from './store/key-names.js';
import { pluginNamespace, SEALED_RECORDS } from './store/keys.js';

export interface BrokerOptions {
  log?: Logger;
  /** Where audit events go besides the log (and the built-in Redis stream). */
  auditSinks?: AuditSink[];
}

export interface Broker {
  app: Koa;
  provider: Provider;
  store: Store;
  registry: EidRegistry;
  issuer: string;
  metrics: Metrics;
  audit: AuditLog;
  /** The rate limits; `flush()` sends the counts this instance holds to the store at once. */
  rateLimits: RateLimiter;
  /** Each eID's metrics, circuit breaker and certificates. */
  operations: EidOperations;
  /** The port of /metrics when `metrics.port` is set, once listening. */
  metricsPort?: number;
  /**
   * Aborted when the broker starts to shut down. A long-lived response (an event stream) ends
   * on it, so that it does not hold the drain to its limit; plugins get it as `draining`.
   */
  draining: AbortSignal;
  /** Starts listening on config.port (0: any free port); resolves with the bound port. */
  listen(): Promise<number>;
  /**
   * A graceful shutdown (SIGTERM): /health/ready answers 503 at once, no new connection is
   * accepted, requests in flight finish (for `shutdown.drain_seconds` at most), then the audit
   * sinks and the rate limits send what they hold, and the eIDs (their locks and leases) and the
   * store are closed.
   */
  shutdown(): Promise<void>;
  /** Closes at once, cutting requests in flight. */
  close(): Promise<void>;
}

/**
 * Pauses between pings while start-up waits: the first ping fails on every start (the Redis
 * client takes commands once connected, a few ms later), so the first pauses are short, then
 * double up to the longest.
 */
const STORE_RETRY_FIRST_MS = 5;
const STORE_RETRY_LONGEST_MS = 200;
/** How often start-up says again that it still waits for the store. */
const STORE_WAIT_NOTICE_MS = 10_000;

/**
 * Start-up's reads of the store, done again for as long as it takes: an instance started while
 * Redis is down (a host's reboot, Redis restarting alongside it) comes up and serves once Redis is
 * back, with or without a supervisor to start it again. It gave up after 15 s, with a stack trace
 * for a reason; and a Redis that answered the first ping but one read late (a machine busy
 * starting everything at once) ended the start too. Each read is one an instance may repeat (a
 * value written only if absent, then read). A StoreUnavailableError is the store away; anything
 * else (Redis refusing the broker) ends the start.
 */
async function whenStoreAnswers<T>(read: () => Promise<T>, log: Logger): Promise<T> {
  const started = Date.now();
  let noticeAt = started + STORE_WAIT_NOTICE_MS;
  let pauseMs = STORE_RETRY_FIRST_MS;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      // Said once the short pauses did not do (Redis itself is not there yet), then now and then;
      // why, the store said when it lost Redis (Redis is unreachable, with the reason).
      if (pauseMs < STORE_RETRY_LONGEST_MS && pauseMs * 2 >= STORE_RETRY_LONGEST_MS) log.info('waiting for the store to answer');
      if (Date.now() >= noticeAt) {
        noticeAt += STORE_WAIT_NOTICE_MS;
        log.warn({ waitedSeconds: Math.round((Date.now() - started) / 1000) }, 'still waiting for the store to answer: nothing is served until it does');
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      pauseMs = Math.min(pauseMs * 2, STORE_RETRY_LONGEST_MS);
    }
  }
}

/**
 * oidc-provider checks client metadata lazily; checking it here turns a client it refuses into a
 * start-up error. The broker's own rules were checked before anything started (checkConfig).
 */
async function validateClients(provider: Provider, clients: BrokerConfig['clients']): Promise<void> {
  for (const [i, client] of clients.entries()) {
    try {
      await provider.Client.find(client.client_id);
    } catch (err) {
      const { error_description: description, message } = err as { error_description?: string; message: string };
      throw new ConfigError(`clients[${i}] (${client.client_id}): ${description ?? message}`);
    }
  }
}

/** Paths that answer without the store, so they still work while it is down: both discovery documents (RFC 8414's too). */
const statelessPaths = (path: string) => path.startsWith('/static/') || DISCOVERY_PATHS.includes(path) || path === '/jwks' || path === '/api/status';

/**
 * The HTTP server's settings as the broker's port applies them: behind a trusted proxy every
 * connection comes from the proxy, so connections are not counted per address there.
 */
function connectionSettings(config: BrokerConfig): BrokerConfig['server'] {
  return config.trust_proxy ? { ...config.server, max_connections_per_ip: 0 } : config.server;
}

/** Where /metrics is served: its own port, the broker's port (behind the token, if one is set), or nowhere. */
function metricsPlacement(config: BrokerConfig, issuer: string, log: Logger): 'port' | 'main' | 'off' {
  const { metrics } = config;
  if (!metrics.enabled) return 'off';
  if (metrics.port !== undefined) return 'port';
  if (metrics.token || !isProductionConfiguration(issuer)) return 'main';
  log.warn('/metrics is off: in a production configuration it needs metrics.token, or metrics.port to serve it on a port of its own');
  return 'off';
}

/**
 * Builds the broker: the store, the eIDs, oidc-provider and the Koa app around them. The
 * app is a short stack: trace → security headers → error boundary → the body limit → a form
 * POSTed to /auth or /session/end sent on as a GET (and opened there) → the parameter limits →
 * health and metrics → load shedding → store guard → static files → login routes → demo →
 * oidc-provider → 404.
 * A waiting page's poll that this instance can answer from its copies leaves it after the error
 * boundary (and the body and parameter limits) for a stack of its own: load shedding → store
 * guard → the poll (KeptPoll).
 */
export async function createBroker(checked: CheckedConfig, options: BrokerOptions = {}): Promise<Broker> {
  // Everything the configuration names was checked before (checkConfig): a configuration error is
  // the first and only thing the broker says, and nothing has started.
  const { config, signingKeys: configuredSigningKeys } = checked;
  const log = options.log ?? createLogger(config.log.level);
  const metrics = new Metrics();
  const store = await createStore(config.redis, log, metrics.observeStore);
  const operations = new EidOperations({ metrics, log, settings: config.circuit_breaker });
  const drain = new Drain();
  try {
    await whenStoreAnswers(() => store.ping(), log);
    const issuer = issuerOf(config);
    if (!config.subject_secret) {
      log.warn('subject_secret is not set: using one generated and kept in the store. If the store loses it, every sub changes.');
    }
    if (!config.store_encryption_keys && config.redis) {
      log.warn('store_encryption_keys is not set: personal data in Redis is encrypted with a key kept in Redis itself, which protects no copy of it');
    }
    const [signingKeys, cookieKeys, subjectSecret, sealingSecrets, keyNamesHashedSince] = await whenStoreAnswers(() => Promise.all([
      configuredSigningKeys ?? sharedSigningKeys(store),
      config.cookie_keys ?? sharedSecret(store, 'cookie').then((key) => [key]),
      config.subject_secret ?? sharedSecret(store, 'subject'),
      config.store_encryption_keys ?? sharedSecret(store, 'store-encryption').then((key) => [key]),
      // The first instance with hashed key names writes when it started, once: until when records
      // an earlier version wrote under a credential's id may still be alive (FormerKeyNames).
      sharedValue(store, 'key-names-hashed-since', () => Promise.resolve(String(Date.now()))).then(Number),
    ]), log);
    const sealer = new Sealer(sealingSecrets);
    // Personal data and secrets (the key families KEY_FAMILIES marks sealed), and every record an
    // eID keeps in its namespace (a BankID order with the person it found, its evidence): encrypted.
    const sealed = sealedStore(store, sealer, [...SEALED_RECORDS, ...Object.keys(config.eids).map((id) => ({ prefix: pluginNamespace(id) }))]);
    const views = new Views(config.ui);
    const registry = await createRegistry(checked.eids, {
      issuer,
      store: sealed,
      log,
      views,
      draining: drain.signal,
      telemetryFor: (id, eidLog) => operations.telemetryFor(id, eidLog),
    }, operations);
    operations.useProbes(registry.all);
    // Each eID's own pages, texts and static files, from its folder.
    const pluginAssets = Object.fromEntries(registry.all.flatMap((plugin) => (plugin.assets ? [[plugin.id, plugin.assets]] : [])));
    for (const [id, folder] of Object.entries(pluginAssets)) views.addPlugin(id, folder);
    const lifetime = loginLifetime(config.ttl, registry.all);
    const cut = cutShort(config.ttl, registry.all);
    if (cut.length) log.warn({ eids: cut, eid_extension: config.ttl.eid_extension }, 'ttl.eid_extension is shorter than these eIDs may take: a login started at the end of ttl.interaction may run out while the person is at them');
    const webhookEndpoints = new WebhookEndpoints(sealed, config.webhooks, issuer);
    const webhooks = new WebhookDeliveries({ store: sealed, endpoints: webhookEndpoints, settings: config.webhooks, metrics, log });
    const sinks = [
      webhooks,
      ...(config.audit.stream.enabled && config.redis ? [redisStreamSink(store, config.audit.stream.key, config.audit.stream.max_length)] : []),
      ...(options.auditSinks ?? []),
    ];
    const audit = new AuditLog({
      log,
      store,
      metrics,
      sinks,
      personalNumbersInClear: config.audit.personal_numbers_in_clear,
      loginTtlSeconds: lifetime.whole,
    });
    if (config.audit.personal_numbers_in_clear) log.warn('audit.personal_numbers_in_clear is on: audit events carry personal numbers in clear');
    const activeLogins = new ActiveLogins(store, lifetime.whole, log);
    metrics.watch({
      storeAvailable: () => store.answering,
      activeInteractions: () => activeLogins.count(),
      webhookQueueDepth: () => webhooks.queueDepth(),
    });
    const subjects = new Subjects(subjectSecret);
    const accounts = new Accounts(sealed, subjects, Math.max(config.ttl.refresh_token, config.ttl.session));
    // The demo and the admin API are loaded only when configured, so a broker without them starts sooner.
    const demo = config.demo ? await import('./demo/routes.js') : undefined;
    const clients = demo ? [...config.clients, await demo.demoClient(issuer, store, views)] : config.clients;
    const clientRules = createClientRules({ issuer, eids: registry.all });
    const clientStore = new ClientStore(store);
    const keyNames = new KeyNames(subjectSecret);
    const initialAccessTokens = new InitialAccessTokens(store, keyNames);
    const backchannel = new Backchannel({ registry, accounts, subjects, store: sealed, audit, metrics, log, settings: config.ciba });
    logClientSources(config, log);
    // The login routes, made once the provider is, decide where /auth sends a browser.
    const loginEntry: { url?: InteractionUrl } = {};
    const provider = createProvider({
      config: { ...config, clients },
      issuer,
      store: sealed,
      signingKeys,
      cookieKeys,
      accounts,
      subjects,
      acrValues: registry.acrValues,
      authorizationDetailsTypes: registry.authorizationDetailsTypes,
      views,
      clientRules,
      clientStore,
      redemptions: new Redemptions(store, log),
      keyNames,
      keyNamesHashedSince,
      initialAccessTokens,
      backchannel,
      interactionUrl: (ctx, interaction) => loginEntry.url!(ctx, interaction),
      loginTtl: lifetime.whole,
    });
    await validateClients(provider, clients);
    observeProvider(provider, { audit, metrics, activeLogins, log });
    const limiter = new RateLimiter(store, config.rate_limits, metrics);
    const metricsAt = metricsPlacement(config, issuer, log);
    const finish = createFinisher(accounts, log, audit);
    const eventStreams = new OpenEventStreams(config.event_streams, metrics);
    // Open event streams would hold the drain to its limit; ended, their browsers reconnect elsewhere.
    drain.signal.addEventListener('abort', () => eventStreams.close(), { once: true });
    const login = loginRoutes({
      provider,
      registry,
      finish,
      views,
      store: sealed,
      issuer,
      log,
      lifetime,
      ui: config.ui,
      audit,
      limiter,
      operations,
      eventStreams,
      metrics,
      formTokens: new FormTokens(cookieKeys),
      holdShutdown: (response, forMs) => drain.hold(response, forMs),
    });
    loginEntry.url = login.interactionUrl;

    const app = new Koa({ proxy: Boolean(config.trust_proxy), ...(typeof config.trust_proxy === 'number' ? { maxIpsCount: config.trust_proxy } : {}) });
    // oidc-provider sets its interaction cookies through this app's context: it needs the same keys.
    app.keys = cookieKeys;
    app.silent = true;
    // A waiting page's poll, once a second per login, logs its successes at debug only.
    app.use(trace(log, Boolean(config.trust_proxy), isPoll));
    // Before every step that knows an endpoint by its path: oidc-provider takes it in other spellings too.
    app.use(providerPathSpelling(provider));
    const headers = securityHeadersFor(issuer);
    app.use(securityHeaders(headers));
    const providerMethods = providerEndpointMethods(provider);
    // Above the error boundary, which writes the refusals of the steps below it.
    app.use(corsOnOwnRefusals((path) => providerMethods(path)?.includes('OPTIONS') === true));
    app.use(errorBoundary(views, log));
    app.use(addressedToIssuer(issuer));
    app.use(bodyLimit(config.server.max_body_bytes));
    // A form POSTed to /auth or /session/end goes on as a GET, where the person's session cookie
    // comes along, with the form sealed; the GET's query, opened, is bounded as any other.
    app.use(postedRequestsAsGet(provider, config.server.max_body_bytes, new SealedForms(sealingSecrets)));
    app.use(boundedParameters());
    const eventLoop = new EventLoopMonitor();
    const shedding = loadShedding(eventLoop, config.load_shedding, metrics);
    const guard = storeGuard(store, views, statelessPaths);
    // A waiting page's poll that this instance answers from its copies, once a second per login: a
    // stack of its own from here, with the steps it needs of the rest (nothing below passes it but
    // load shedding, the store guard and its route) and none of the routers' matching.
    app.use(onlyWhere(login.keptPoll.takes, chain([shedding, guard, ...login.keptPoll.route])));
    // Health and metrics answer for themselves while the store is down: that is when they matter.
    app.use(healthRoutes({ store, registry, operations, signingKeyCount: signingKeys.length, log, draining: () => drain.draining }));
    if (metricsAt === 'main') app.use(metricsRoute(metrics, config.metrics.token));
    app.use(shedding);
    app.use(guard);
    const files = staticFileTable(config.ui.overrides.css, pluginAssets, staticKitsOf(registry.all));
    app.use(staticFiles(files));
    app.use(rateLimits(limiter));
    if (config.admin.token) {
      const { adminApi } = await import('./admin/router.js');
      const staticClients = clients.map(clientMetadata);
      app.use(
        adminApi({
          token: config.admin.token,
          provider,
          clientStore,
          clientRules,
          staticClients,
          registration: config.registration,
          initialAccessTokens,
          log,
          audit,
          webhookEndpoints,
          issuer,
          evidence: async (eid, transactionId) => registry.get(eid)?.evidence?.(transactionId),
        }),
      );
    }
    const { routers } = login;
    const paths: string[] = [...LOGIN_PATHS];
    if (demo) {
      routers.push(await demo.demoRoutes({ issuer, store, registry, views, log }));
      paths.push(demo.DEMO_PATH);
    }
    app.use(routersUnder(paths, routers));
    // The broker's own fixed addresses besides the routers' (which answer a wrong method themselves) and oidc-provider's.
    const ownAddresses = [...HEALTH_PATHS, ...(metricsAt === 'main' ? [METRICS_PATH] : []), ...files.keys()];
    const ownMethods = new Map(ownAddresses.map((path) => [path, READ_METHODS]));
    const methodsAt: MethodsAt = (path) => ownMethods.get(path) ?? providerMethods(path);
    app.use(plainOptions(methodsAt));
    app.use(mount(provider as unknown as Koa));
    app.use(notFound(views, methodsAt));
    // What of the stack above a kept poll would refuse it: such a poll is then not answered directly.
    const refusedByApp = (ctx: Context) =>
      lacksHost(ctx.req) ||
      overloaded(eventLoop, config.load_shedding) ||
      !store.available ||
      bodyRefusal(ctx, config.server.max_body_bytes) !== undefined ||
      tooLongParameter(ctx.query) !== undefined;

    let servers: Server[] = [];
    let metricsServer: MetricsServer | undefined;
    /** Drains the servers for `limitMs` at most (or the requests' holds, with `holds`), then closes everything behind them. */
    const stop = async (limitMs: number, holds = false) => {
      const cut = await drain.drain(servers, limitMs, holds);
      if (cut > 0) log.warn({ cut }, 'requests still in flight were cut');
      await metricsServer?.close();
      eventLoop.close();
      operations.close();
      await audit.flush();
      await activeLogins.flush();
      await limiter.close();
      await webhooks.close();
      await backchannel.close();
      await registry.close();
      await store.close();
    };
    const broker: Broker = {
      app,
      provider,
      store,
      registry,
      issuer,
      metrics,
      audit,
      rateLimits: limiter,
      operations,
      draining: drain.signal,
      async listen() {
        if (metricsAt === 'port') {
          metricsServer = await startMetricsServer(metrics, { port: config.metrics.port!, host: config.metrics.host, token: config.metrics.token, server: config.server, securityHeaders: headers }, log);
          broker.metricsPort = metricsServer.port;
        }
        webhooks.start();
        backchannel.start();
        servers = await listenOn(answerKeptPolls({ app, keptPoll: login.keptPoll, refusedByApp, trustProxy: Boolean(config.trust_proxy), securityHeaders: headers, log, metrics }, app.callback()), connectionSettings(config), {
          port: config.port,
          host: config.host,
        });
        for (const server of servers) {
          drain.watch(server);
          answerParserErrors(server, { securityHeaders: headers, log });
        }
        const { port } = servers[0]!.address() as AddressInfo;
        log.info({ issuer, port, listen_sockets: servers.length, node: process.versions.node, eids: registry.all.map((plugin) => plugin.id) }, 'broker listening');
        return port;
      },
      async shutdown() {
        log.info({ drain_seconds: config.shutdown.drain_seconds }, 'shutting down: not ready, no new connections, requests in flight may finish');
        await stop(config.shutdown.drain_seconds * 1000, true);
      },
      close: () => stop(0),
    };
    return broker;
  } catch (err) {
    operations.close();
    await store.close();
    throw err;
  }
}
