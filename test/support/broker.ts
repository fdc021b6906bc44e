import { afterAll } from 'vitest';
import { createBroker, type Broker } from '../../src/broker.js';
import { checkConfig } from '../../src/config/check.js';
import type { ConfigInput } from '../../src/config/schema.js';
import type { EidPluginFactory } from '../../src/eids/plugin.js';
import { createLogger, type Logger } from '../../src/log.js';
import { deleteKeysWithPrefix, findFreePort, redisUrl, uniquePrefix } from './redis.js';
import { builtInEids, eidSecretFields } from '../../providers/index.js';
import { testDoubleEid } from './test-double-eid.js';

export const webClient = {
  client_id: 'web-app',
  client_secret: 'a-web-app-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://rp.example/callback'],
  post_logout_redirect_uris: ['https://rp.example/logged-out'],
  display_name: 'Web <App> & Co',
};

export const publicClient = {
  client_id: 'spa',
  redirect_uris: ['https://spa.example/callback'],
  token_endpoint_auth_method: 'none' as const,
};

export interface TestBroker {
  broker: Broker;
  issuer: string;
  /** The key prefix this broker uses in the shared Redis. */
  prefix: string;
  close(): Promise<void>;
}

/**
 * A real broker on a free loopback port, on the shared Redis under its own key prefix, with
 * the test-double eID as `test-double` (and `other-double` when asked) and the built-in eIDs
 * available to its configuration. Closed after the file.
 */
export async function startTestBroker(
  overrides: Partial<ConfigInput> = {},
  name = 'broker',
  /** `eids`: more plugins the configuration may enable, by id (an eID built for one test). */
  options: { log?: Logger; prefix?: string; eids?: Record<string, EidPluginFactory> } = {},
): Promise<TestBroker> {
  const port = overrides.port ?? (await findFreePort());
  // Brokers given the same prefix share their state, as instances of one deployment do.
  const prefix = options.prefix ?? uniquePrefix(name);
  const issuer = overrides.issuer ?? `http://127.0.0.1:${port}`;
  const checked = await checkConfig({
    issuer,
    port,
    redis: { url: redisUrl, key_prefix: prefix },
    clients: [webClient, publicClient],
    eids: { 'test-double': {} },
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
    // No health probes of upstreams while all is well: a probe is a real request to a simulator,
    // which would turn up in the calls a test counts. Tests of the circuit breaker set their own.
    circuit_breaker: { probe_interval_seconds: 0 },
    // Test files run two at a time, and one process may hold several brokers, their simulators and
    // a browser's client: its event loop lags when the machine is busy, which is not the overload
    // load shedding is for (a 503 busy mid-walk). test/integration/load-shedding.test.ts sets its own.
    load_shedding: { max_event_loop_delay_ms: 5_000 },
    ...overrides,
  }, { ...builtInEids, 'test-double': testDoubleEid, 'other-double': testDoubleEid, ...options.eids });
  const broker = await createBroker(checked, { log: options.log ?? createLogger(checked.config.log.level, undefined, eidSecretFields) });
  await broker.listen();
  const testBroker = {
    broker,
    issuer,
    prefix,
    async close() {
      await broker.close();
      await deleteKeysWithPrefix(prefix);
    },
  };
  afterAll(() => testBroker.close());
  return testBroker;
}
