import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import { adminApi } from './admin/router.js';
import { logClientSources } from './clients/registration.js';
import { createClientRules } from './clients/rules.js';
import { checkStaticClients } from './clients/static.js';
import { ClientStore } from './clients/store.js';
import { ConfigError } from './config/load.js';
import type { BrokerConfig } from './config/schema.js';
import { demoRoutes, demoClient } from './demo/routes.js';
import type { EidPluginFactory } from './eids/plugin.js';
import { createRegistry, type EidRegistry } from './eids/registry.js';
import { errorBoundary, notFound, storeGuard } from './http/errors.js';
import { securityHeaders } from './http/security-headers.js';
import { staticFiles } from './http/static.js';
import { trace } from './http/trace.js';
import { Views } from './http/views.js';
import { createLogger, type Logger } from './log.js';
import { createFinisher } from './login/finish.js';
import { loginRoutes } from './login/routes.js';
import { Accounts } from './oidc/accounts.js';
import { loadSigningKeys, sharedSecret } from './oidc/keys.js';
import { clientMetadata, createProvider } from './oidc/provider.js';
import { Subjects } from './oidc/subject.js';
import { createStore, type Store } from './store/index.js';

export interface BrokerOptions {
  /** The eID plugins this broker can run, by id; the configuration's `eids` picks among them. */
  eids: Record<string, EidPluginFactory>;
  log?: Logger;
}

export interface Broker {
  app: Koa;
  provider: Provider;
  store: Store;
  registry: EidRegistry;
  issuer: string;
  /** Starts listening on config.port (0: any free port); resolves with the bound port. */
  listen(): Promise<number>;
  close(): Promise<void>;
}

/** How long start-up waits for the store (Redis starting alongside the broker) before giving up. */
const STORE_WAIT_MS = 15_000;

async function waitUntilAvailable(store: Store, log: Logger): Promise<void> {
  const deadline = Date.now() + STORE_WAIT_MS;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await store.ping();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      if (attempt === 0) log.info('waiting for the store to answer');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** oidc-provider checks client metadata lazily; checking it here turns a bad client into a start-up error. */
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

/** Paths that answer without the store, so they still work while it is down. */
const statelessPaths = (path: string) =>
  path === '/health/live' || path.startsWith('/static/') || path === '/.well-known/openid-configuration' || path === '/jwks';

/**
 * Builds the broker: the store, the eIDs, oidc-provider and the Koa app around them. The
 * app is a short stack: trace → security headers → error boundary → store guard → static
 * files → login routes → demo → oidc-provider → 404.
 */
export async function createBroker(config: BrokerConfig, options: BrokerOptions): Promise<Broker> {
  const log = options.log ?? createLogger(config.log.level);
  const store = createStore(config.redis, log);
  try {
    await waitUntilAvailable(store, log);
    const issuer = config.issuer ?? `http://localhost:${config.port}`;
    if (!config.subject_secret) {
      log.warn('subject_secret is not set: using one generated and kept in the store. If the store loses it, every sub changes.');
    }
    const [signingKeys, cookieKeys, subjectSecret] = await Promise.all([
      loadSigningKeys(config.jwks, store),
      config.cookie_keys ?? sharedSecret(store, 'cookie').then((key) => [key]),
      config.subject_secret ?? sharedSecret(store, 'subject'),
    ]);
    const views = new Views(config.ui);
    const registry = await createRegistry(config.eids, options.eids, { issuer, store, log, views });
    const subjects = new Subjects(subjectSecret);
    const accounts = new Accounts(store, subjects, Math.max(config.ttl.refresh_token, config.ttl.session));
    const clients = config.demo ? [...config.clients, await demoClient(issuer, store)] : config.clients;
    const clientRules = createClientRules({ issuer, eids: registry.all });
    checkStaticClients(clients, clientRules);
    const clientStore = new ClientStore(store);
    logClientSources(config, log);
    const provider = createProvider({
      config: { ...config, clients },
      issuer,
      store,
      signingKeys,
      cookieKeys,
      accounts,
      subjects,
      acrValues: registry.acrValues,
      views,
      clientRules,
      clientStore,
    });
    await validateClients(provider, clients);

    const app = new Koa({ proxy: Boolean(config.trust_proxy), ...(typeof config.trust_proxy === 'number' ? { maxIpsCount: config.trust_proxy } : {}) });
    // oidc-provider sets its interaction cookies through this app's context: it needs the same keys.
    app.keys = cookieKeys;
    app.silent = true;
    app.use(trace(log, Boolean(config.trust_proxy)));
    app.use(securityHeaders());
    app.use(errorBoundary(views, log));
    app.use(storeGuard(store, views, statelessPaths));
    app.use(staticFiles(config.ui.overrides.css));
    if (config.admin.token) {
      const staticClients = clients.map(clientMetadata);
      app.use(adminApi({ token: config.admin.token, provider, clientStore, clientRules, staticClients, registration: config.registration, log }));
    }
    app.use(async (ctx, next) => {
      if (ctx.path === '/health/live') ctx.body = { status: 'live' };
      else await next();
    });
    const finish = createFinisher(provider, accounts, log);
    const routers = loginRoutes({ provider, registry, finish, views, store, issuer, log, interactionTtl: config.ttl.interaction, ui: config.ui });
    if (config.demo) routers.push(await demoRoutes({ issuer, store, registry, views }));
    for (const router of routers) app.use(router.routes()).use(router.allowedMethods());
    app.use(mount(provider as unknown as Koa));
    app.use(notFound(views));

    let server: Server | undefined;
    return {
      app,
      provider,
      store,
      registry,
      issuer,
      async listen() {
        server = app.listen(config.port, config.host);
        await once(server, 'listening');
        const { port } = server.address() as AddressInfo;
        log.info({ issuer, port, eids: registry.all.map((plugin) => plugin.id) }, 'broker listening');
        return port;
      },
      async close() {
        if (server) {
          server.closeAllConnections();
          await new Promise((resolve) => server!.close(resolve));
        }
        await registry.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
