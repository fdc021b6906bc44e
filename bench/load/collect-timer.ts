import { readFileSync } from 'node:fs';
import { BankIdClient } from '../../providers/se-bankid/api/client.js';
import { checkBankIdSection } from '../../providers/se-bankid/config.js';
import { BankIdLogin } from '../../providers/se-bankid/flow.js';
import { OrderStore, type OrderRecord } from '../../providers/se-bankid/orders.js';
import { parseConfig } from '../../src/config/load.js';
import type { PageRenderer } from '../../src/eids/sdk.js';
import { EidOperations } from '../../src/eids/telemetry.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { Sealer, sealedStore } from '../../src/store/sealed-store.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { scopedStore } from '../../src/store/scoped-store.js';
import { median } from '../lib/stats.js';

/**
 * Times one collect of a waiting BankID order as the broker runs it (BankIdLogin.collectIfDue:
 * the lease in Redis, the call to BankID over mutual TLS with its metrics and circuit breaker,
 * and what a pending answer changes), in a process of its own against the bench's simulator
 * and Redis. Each round collects every order once, in batches of 64 started together as
 * WaitingOrders' tick starts them, after the previous round's leases have lapsed. Prints one JSON line: the CPU time of
 * this process per collect (median over the rounds) and Redis commands per collect.
 *
 * Input (argv[2], JSON): { apiUrl, ca, cert, key (files), redisUrl, keyPrefix, orders, rounds }.
 */
interface Input {
  apiUrl: string;
  ca: string;
  cert: string;
  key: string;
  redisUrl: string;
  keyPrefix: string;
  orders: number;
  rounds: number;
}

export interface CollectOutcome {
  cpuMsPerCollect: number;
  redisCommandsPerCollect: number;
  rounds: Array<{ cpuMsPerCollect: number; collected: number; redisCommandsPerCollect: number }>;
}

const IN_FLIGHT = 64;
const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const log = createLogger('info');
const metrics = new Metrics();
const operations = new EidOperations({ metrics, log, settings: (parseConfig({ issuer: 'http://127.0.0.1:1' }) as { circuit_breaker: ConstructorParameters<typeof EidOperations>[0]['settings'] }).circuit_breaker });
const section = checkBankIdSection({ mode: 'custom', custom_url: input.apiUrl, ca: input.ca, client_certificate: { cert: input.cert, key: input.key }, poll_frequency: 1 });
if (!('data' in section)) throw new Error('the bench\'s BankID section is not valid');
const settings = section.data;
const tls = { ca: readFileSync(input.ca, 'utf8'), cert: readFileSync(input.cert, 'utf8'), key: readFileSync(input.key, 'utf8') };
const redisStore = createRedisStore({ url: input.redisUrl, key_prefix: input.keyPrefix, command_timeout_ms: 2000 }, log, metrics.observeStore);
// The store as the broker hands it to the plugin: its records sealed, its keys under se-bankid:.
const store = scopedStore(sealedStore(redisStore, new Sealer(['bench collect timer']), [{ prefix: 'se-bankid:' }]), 'se-bankid:');
const client = new BankIdClient({ url: input.apiUrl, tls, timeoutMs: 5000, pipelineCollects: settings.pipeline_collects, log, telemetry: operations.telemetryFor('se-bankid', log) });
const orders = new OrderStore(store, { ttlSeconds: 600, pollFrequencySeconds: 1 });
const login = new BankIdLogin({ id: 'se-bankid', issuer: 'http://127.0.0.1:1', client, orders, settings, views: {} as PageRenderer, log });
const person = { uid: '', clientId: 'bench', locale: 'en', ip: '127.0.0.1', userAgent: 'bench', deviceId: 'bench', browserId: 'bench' };

async function redisCommands(): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(input.redisUrl);
  const info = await redis.info('stats');
  await redis.quit();
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
}

async function startOrders(): Promise<Array<{ uid: string; order: OrderRecord }>> {
  const started = [];
  for (let index = 0; index < input.orders; index += 1) {
    const created = await client.auth({ endUserIp: '127.0.0.1' });
    const order: OrderRecord = { device: 'other', acr: 'bench', ...created, orderedAt: Date.now(), firstOrderedAt: Date.now(), requirement: {} };
    const uid = `bench-collect-${index}-${created.orderRef}`;
    await orders.replace(uid, order);
    started.push({ uid, order });
  }
  return started;
}

async function round(waiting: Array<{ uid: string; order: OrderRecord }>): Promise<CollectOutcome['rounds'][number]> {
  // The previous round's leases (poll_frequency 1 s) must have lapsed.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const commandsBefore = await redisCommands();
  const before = process.cpuUsage();
  let collected = 0;
  // As WaitingOrders' tick starts them: up to IN_FLIGHT collects in one turn of the event loop
  // (their leases in one command), the next batch once those have ended.
  for (let from = 0; from < waiting.length; from += IN_FLIGHT) {
    await Promise.all(
      waiting.slice(from, from + IN_FLIGHT).map(async (item) => {
        const result = await login.collectIfDue({ ...person, uid: item.uid }, item.order);
        if (result.collected) collected += 1;
        if (!result.order) throw new Error(`the order of ${item.uid} was gone from Redis at its collect`);
        item.order = result.order;
      }),
    );
  }
  const used = process.cpuUsage(before);
  // The INFO call itself counts one command.
  const commands = (await redisCommands()) - commandsBefore - 1;
  return { cpuMsPerCollect: (used.user + used.system) / 1000 / Math.max(collected, 1), collected, redisCommandsPerCollect: commands / Math.max(collected, 1) };
}

// The store fails fast until its connection is ready (no offline queue): wait, as the broker does at start.
while (!redisStore.available) await new Promise((resolve) => setTimeout(resolve, 10));
const waiting = await startOrders();
await round(waiting); // warms up connections and the JIT
const rounds = [];
for (let index = 0; index < input.rounds; index += 1) rounds.push(await round(waiting));
const outcome: CollectOutcome = {
  cpuMsPerCollect: median(rounds.map((r) => r.cpuMsPerCollect)),
  redisCommandsPerCollect: median(rounds.map((r) => r.redisCommandsPerCollect)),
  rounds,
};
console.log(JSON.stringify(outcome));
await Promise.all([client.close(), redisStore.close()]);
operations.close();
