import { cpus } from 'node:os';

/**
 * What one `npm run bench` does, from the environment:
 *
 * - BENCH_QUICK=1: shorter runs and smaller N, for a try-out (about four minutes).
 * - BENCH_ONLY=token,login,scale,qr,collect,startup: run only these scenarios.
 * - BENCH_SCALE=1000,5000,10000: the N of the waiting-logins scenario on the event stream.
 * - BENCH_SCALE_POLL=5000: its N on the JSON poll path; 0 skips the poll path.
 * - BENCH_SCALE_INSTANCES=2: the instances the largest N runs on again; 1 skips that step.
 * - BENCH_POLL=600: the waiting logins of the poll scenario (CPU per poll over rounds of polls).
 * - BENCH_PROFILE=1: run every broker with --cpu-prof and summarize its hot spots.
 * - BENCH_REDIS_URL=redis://127.0.0.1:6379: use that Redis instead of a private redis-server.
 * - BENCH_NODE=/path/to/node: run the servers measured (broker, bare oidc-provider, the BankID
 *   simulator) with that node binary, e.g. another Node version; the bench itself and the load
 *   generators keep the node that runs `npm run bench`.
 */
export const scenarioNames = ['startup', 'qr', 'collect', 'token', 'login', 'scale', 'poll'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export interface BenchOptions {
  quick: boolean;
  only: ReadonlySet<ScenarioName>;
  profile: boolean;
  redisUrl?: string;
  /** The node binary of the servers measured. */
  serverNode: string;
  cores: number;
  token: { rounds: number; seconds: number; warmupSeconds: number; connections: number; refreshTokens: number };
  login: { rounds: number; seconds: number; warmupSeconds: number; concurrency: number };
  scale: {
    /** N on the event stream, one instance; the largest runs on `instances` instances too. */
    sizes: number[];
    /** N on the JSON poll path. */
    pollSizes: number[];
    instances: number;
    /** Sizes above this are run only when the one before held. */
    mustHoldAbove: number;
    warmupSeconds: number;
    windows: number;
    windowSeconds: number;
    createConcurrency: number;
    openConcurrency: number;
    pollFrequency: number;
  };
  /** Rounds in which each of `logins` waiting logins polls once, `concurrency` polls at a time. */
  poll: { logins: number; warmupRounds: number; rounds: number; concurrency: number; pollFrequency: number };
  qr: { rounds: number; iterations: number };
  collect: { orders: number; rounds: number };
  startup: { runs: number; idleSeconds: number };
}

function listOf(value: string | undefined): string[] | undefined {
  return value ? value.split(',').map((item) => item.trim()).filter(Boolean) : undefined;
}

function sizesFrom(env: NodeJS.ProcessEnv, name: string, fallback: number[]): number[] {
  if (env[name] === '0') return [];
  const sizes = listOf(env[name])?.map(Number) ?? fallback;
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`${name}: expected positive integers, e.g. 1000,5000`);
  return [...sizes].sort((a, b) => a - b);
}

export function readOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const quick = env.BENCH_QUICK === '1';
  const only = listOf(env.BENCH_ONLY) ?? [...scenarioNames];
  const unknown = only.filter((name) => !(scenarioNames as readonly string[]).includes(name));
  if (unknown.length) throw new Error(`BENCH_ONLY: unknown scenario ${unknown.join(', ')} (known: ${scenarioNames.join(', ')})`);
  const sizes = sizesFrom(env, 'BENCH_SCALE', quick ? [200, 1000] : [1000, 5000, 10000]);
  const pollSizes = sizesFrom(env, 'BENCH_SCALE_POLL', quick ? [1000] : [5000]);
  return {
    quick,
    only: new Set(only as ScenarioName[]),
    profile: env.BENCH_PROFILE === '1',
    ...(env.BENCH_REDIS_URL ? { redisUrl: env.BENCH_REDIS_URL } : {}),
    serverNode: env.BENCH_NODE ?? process.execPath,
    cores: cpus().length,
    token: { rounds: 3, seconds: quick ? 3 : 10, warmupSeconds: quick ? 1 : 3, connections: 20, refreshTokens: 20 },
    login: { rounds: 3, seconds: quick ? 3 : 10, warmupSeconds: quick ? 1 : 3, concurrency: 10 },
    scale: {
      sizes,
      pollSizes,
      instances: Number(env.BENCH_SCALE_INSTANCES ?? 2),
      mustHoldAbove: 5000,
      warmupSeconds: quick ? 3 : 5,
      windows: quick ? 2 : 3,
      // A whole number of poll_frequency, so every order's collects fall evenly into a window.
      windowSeconds: quick ? 6 : 10,
      createConcurrency: 16,
      openConcurrency: 16,
      pollFrequency: 2,
    },
    // Ten seconds between an order's collects: they cost the same on either path and would blur a poll's cost.
    poll: { logins: Number(env.BENCH_POLL ?? (quick ? 300 : 600)), warmupRounds: 2, rounds: quick ? 3 : 5, concurrency: 32, pollFrequency: 10 },
    qr: { rounds: quick ? 3 : 5, iterations: quick ? 500 : 2000 },
    collect: { orders: quick ? 500 : 1000, rounds: quick ? 4 : 8 },
    startup: { runs: quick ? 3 : 5, idleSeconds: 2 },
  };
}
