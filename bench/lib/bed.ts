import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { parseConfig } from '../../src/config/load.js';
import { projectRoot } from '../../src/paths.js';
import type { Client, Target } from './flows.js';
import { waitFor200 } from './http.js';
import { cpuSeconds } from './proc.js';
import { startNode, type BenchProcess } from './processes.js';
import { findFreePort } from '../../test/support/ports.js';
import type { BenchRedis } from './redis.js';

/**
 * The test bed every scenario draws on: one BankID simulator, and brokers and bare
 * oidc-providers started on demand, each in its own process on its own key prefix, all with
 * the same client, keys and secrets. The broker is the real one: `bin/main.ts`, bundled,
 * reading a configuration file as in production.
 */

/** The compiled tree this bench runs from (bench/tsconfig.build.json). */
const buildRoot = new URL('../../', import.meta.url);
/** A script of the compiled tree, e.g. compiled('bench/load/waiting-pages.js'). */
export const compiled = (path: string) => new URL(path, buildRoot);
/** The broker's bundle, as `npm run build` makes it, which `npm run bench` writes beside the compiled tree. */
const brokerMain = compiled('broker/main.js');

/**
 * The environment the container image gives the broker (the `ENV` lines of the Dockerfile's last
 * stage: malloc arenas, V8's young generation), so that the bench measures the broker as it runs
 * in production. NODE_ENV aside: production refuses what the bench uses (simulators, generated keys).
 */
export function imageEnvironment(dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8')): Record<string, string> {
  const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const [, name, value] of lastStage.matchAll(/^ENV ([A-Z_][A-Z0-9_]*)=(\S+)$/gm)) {
    if (name !== 'NODE_ENV') env[name!] = value!;
  }
  // Node options the bench is run with (say --heapsnapshot-signal) come on top, as an operator's would.
  if (env.NODE_OPTIONS && process.env.NODE_OPTIONS) env.NODE_OPTIONS += ` ${process.env.NODE_OPTIONS}`;
  return env;
}

/** Where `BENCH_PROFILE=1` writes CPU profiles. */
export const profileDir = join(projectRoot, 'bench', 'profiles');

/** Lifetimes both servers use, as the broker's defaults. */
const TTL = { authorization_code: 60, access_token: 600, id_token: 600, refresh_token: 1_209_600, interaction: 600, session: 28_800 };

export interface RunningServer {
  target: Target;
  /** Where this process listens: the issuer's origin, unless it is another instance of a broker. */
  url: string;
  process: BenchProcess;
  prefix: string;
  /** Milliseconds from spawning the process to the first 200 from discovery. */
  readyMs: number;
  /** CPU milliseconds (user and system) the process had used by then: less sensitive to other load than readyMs. */
  readyCpuMs: number;
  stop(): Promise<void>;
}

export interface BrokerSettings {
  /** Overrides of the se-bankid section. */
  bankid?: Record<string, unknown>;
  /** Overrides of the lifetimes. */
  ttl?: Partial<typeof TTL>;
  logLevel?: string;
  /** Another instance of this broker, as behind a load balancer: its issuer and Redis key prefix, a port of its own. */
  instanceOf?: RunningServer;
}

export interface Bed {
  client: Client;
  simulator: { apiUrl: string; benchUrl: string; pid: number };
  /** The files of the mutual TLS towards the simulator: its CA, the RP certificate and key. */
  bankIdTls: { ca: string; cert: string; key: string };
  /** The brokers' store_encryption_keys: the bench reads the orders they keep sealed in Redis. */
  storeEncryptionKeys: string[];
  startBroker(name: string, settings?: BrokerSettings): Promise<RunningServer>;
  /** Bare oidc-provider; with 'bankid' its interaction does a minimal BankID integration's work against the simulator. */
  startBare(name: string, interaction?: 'instant' | 'bankid'): Promise<RunningServer>;
  /** The simulator's RP API call counts. */
  simulatorStats(): Promise<Record<'auth' | 'collect' | 'cancel', number>>;
  close(): Promise<void>;
}

async function privateJwk(alg: 'ES256' | 'RS256') {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) };
}

const secret = () => randomBytes(32).toString('base64url');

/** Far more requests than a bench run makes in a rate-limit window. */
const OUT_OF_REACH = 1_000_000_000;

/**
 * All the bench's traffic comes from 127.0.0.1, where production traffic comes from many
 * addresses: per-address and per-client rate limits, where this broker has them, stay on (so
 * their counting is measured) but are set out of reach. Which limits there are is read from
 * the configuration's own defaults, so the bench follows the schema as it changes.
 */
function withLimitsOutOfReach(config: Record<string, unknown>): Record<string, unknown> {
  const limits = (parseConfig(config) as Record<string, unknown>).rate_limits;
  if (!limits || typeof limits !== 'object') return config;
  const raised = Object.fromEntries(
    Object.entries(limits).map(([name, value]) =>
      // Every limit a configuration has, raised: per address, and per client where it counts clients too.
      value && typeof value === 'object' && 'per_ip' in value
        ? [name, { ...value, per_ip: OUT_OF_REACH, ...('per_client' in value ? { per_client: OUT_OF_REACH } : {}) }]
        : [name, value],
    ),
  );
  return { ...config, rate_limits: raised };
}

export interface BedOptions {
  profile: boolean;
  node: string;
  /** A command the broker and bare oidc-provider run under (tools/grant-instructions.ts: valgrind); the simulator runs as it is. */
  launcher?: string[];
  /** Node flags for the broker and bare oidc-provider, besides BENCH_PROFILE's. */
  nodeFlags?: string[];
}

/** How long a server may take to answer discovery: under a launcher such as valgrind, node starts fifty times slower. */
const startDeadlineMs = (options: BedOptions) => (options.launcher ? 600_000 : 30_000);

export async function openBed(redis: BenchRedis, options: BedOptions): Promise<Bed> {
  const dir = mkdtempSync(join(tmpdir(), 'neb-bench-'));
  // Also when the run is cut short: the folder holds private keys.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const pki = await createTestPki();
  const pkiFile = file('pki.json', JSON.stringify(pki));
  const ca = file('bankid-ca.pem', pki.serverCa);
  const cert = file('rp.pem', pki.client.cert);
  const key = file('rp.key', pki.client.key);
  // Both servers sign with the same keys: an ES256 key first (ID tokens), and an RS256 one.
  const jwksFile = file('jwks.json', JSON.stringify({ keys: [await privateJwk('ES256'), await privateJwk('RS256')] }));
  const cookieKeys = [secret()];
  const subjectSecret = secret();
  const storeEncryptionKeys = [secret()];
  const client: Client = { client_id: 'bench-rp', client_secret: secret(), redirect_uri: 'http://127.0.0.1:9/callback' };
  const started: RunningServer[] = [];

  // Pending orders of the scale scenario must not fail while they wait: a long pickup timeout.
  const simulatorProcess = startNode('bankid-simulator', compiled('bench/targets/bankid-simulator.js'), {
    node: options.node,
    args: [JSON.stringify({ pkiFile, pickupTimeoutSeconds: 3600 })],
  });
  const ready = JSON.parse(await simulatorProcess.line((line) => line.startsWith('{"ready"'))) as { apiUrl: string; benchUrl: string };
  const simulator = { ...ready, pid: simulatorProcess.pid };

  function brokerConfig(name: string, port: number, settings: BrokerSettings = {}) {
    const prefix = settings.instanceOf?.prefix ?? redis.prefix(name);
    const config = {
      issuer: settings.instanceOf?.target.issuer ?? `http://127.0.0.1:${port}`,
      port,
      host: '127.0.0.1',
      redis: { url: redis.url, key_prefix: prefix },
      cookie_keys: cookieKeys,
      subject_secret: subjectSecret,
      store_encryption_keys: storeEncryptionKeys,
      jwks: jwksFile,
      ttl: { ...TTL, ...settings.ttl },
      clients: [{ client_id: client.client_id, client_secret: client.client_secret, redirect_uris: [client.redirect_uri] }],
      // All the bench's streams come from 127.0.0.1, as its requests do (see withLimitsOutOfReach).
      event_streams: { per_ip: OUT_OF_REACH },
      server: { max_connections_per_ip: 0 },
      eids: {
        'se-bankid': {
          mode: 'custom',
          custom_url: simulator.apiUrl,
          ca,
          client_certificate: { cert, key },
          poll_frequency: 2,
          ...settings.bankid,
        },
      },
      log: { level: settings.logLevel ?? 'info' },
      // Under a launcher such as valgrind every turn of the event loop is slow: nothing to shed.
      ...(options.launcher ? { load_shedding: { enabled: false } } : {}),
    };
    return { path: file(`${name}.json`, JSON.stringify(withLimitsOutOfReach(config))), prefix };
  }

  function nodeFlags(name: string): string[] {
    const given = options.nodeFlags ?? [];
    if (!options.profile) return given;
    mkdirSync(profileDir, { recursive: true });
    return [...given, '--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`];
  }

  async function serve(
    kind: Target['kind'],
    name: string,
    port: number,
    spawnedAt: number,
    proc: BenchProcess,
    prefix: string,
    issuer = `http://127.0.0.1:${port}`,
  ): Promise<RunningServer> {
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitFor200(`${url}/.well-known/openid-configuration`, { deadlineMs: startDeadlineMs(options), everyMs: options.launcher ? 250 : 5, gaveUp: proc.exited });
    } catch (error) {
      await proc.stop();
      const logFile = join(dir, `${name}.log`);
      const output = existsSync(logFile) ? readFileSync(logFile, 'utf8') : proc.output();
      throw new Error(`${name} did not start: ${(error as Error).message}\n${output.slice(-2000)}`);
    }
    const server: RunningServer = {
      target: { kind, issuer, client, ...(kind === 'bare' ? {} : { approveUrl: `${simulator.benchUrl}/approve` }) },
      url,
      process: proc,
      prefix,
      readyMs: performance.now() - spawnedAt,
      readyCpuMs: cpuSeconds(proc.pid) * 1000,
      stop: () => proc.stop(),
    };
    started.push(server);
    return server;
  }

  return {
    client,
    simulator,
    bankIdTls: { ca, cert, key },
    storeEncryptionKeys,

    async startBroker(name, settings) {
      const port = await findFreePort();
      const { path, prefix } = brokerConfig(name, port, settings);
      const spawnedAt = performance.now();
      const proc = startNode(name, brokerMain, {
        node: options.node,
        env: { ...imageEnvironment(), BROKER_CONFIG: path },
        ...(options.launcher ? { launcher: options.launcher } : {}),
        nodeFlags: nodeFlags(name),
        logFile: join(dir, `${name}.log`),
      });
      return serve('broker', name, port, spawnedAt, proc, prefix, settings?.instanceOf?.target.issuer);
    },

    async startBare(name, interaction = 'instant') {
      const port = await findFreePort();
      const prefix = redis.prefix(name);
      const bankId = interaction === 'bankid' ? { bankId: { apiUrl: simulator.apiUrl, ca, cert, key } } : {};
      const input = { issuer: `http://127.0.0.1:${port}`, port, redisUrl: redis.url, keyPrefix: prefix, client, jwksFile, cookieKeys, ttl: TTL, ...bankId };
      const spawnedAt = performance.now();
      const proc = startNode(name, compiled('bench/targets/bare-provider.js'), {
        node: options.node,
        // The same runtime settings as the broker's, so that a ratio compares the code alone.
        env: imageEnvironment(),
        args: [JSON.stringify(input)],
        ...(options.launcher ? { launcher: options.launcher } : {}),
        nodeFlags: nodeFlags(name),
        logFile: join(dir, `${name}.log`),
      });
      return serve(interaction === 'bankid' ? 'bare-bankid' : 'bare', name, port, spawnedAt, proc, prefix);
    },

    async simulatorStats() {
      const response = await fetch(`${simulator.benchUrl}/stats`);
      return (await response.json()) as Record<'auth' | 'collect' | 'cancel', number>;
    },

    async close() {
      try {
        await Promise.all(started.map((server) => server.stop()));
        await simulatorProcess.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
