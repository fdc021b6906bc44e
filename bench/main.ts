import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/paths.js';
import { openBed, profileDir, type Bed } from './lib/bed.js';
import { readOptions, scenarioNames, type ScenarioName } from './lib/options.js';
import { watchOtherLoad } from './lib/proc.js';
import { livePids, stopAll } from './lib/processes.js';
import { describeProfile } from './lib/profile.js';
import { openBenchRedis, type BenchRedis } from './lib/redis.js';
import { table, writeResults, type Environment, type ScenarioContext, type ScenarioResult } from './lib/report.js';
import { collect } from './scenarios/collect.js';
import { login } from './scenarios/login.js';
import { poll } from './scenarios/poll.js';
import { qr, qrShareOfPoll } from './scenarios/qr.js';
import { scale, type ScaleRuns } from './scenarios/scale.js';
import { startup } from './scenarios/startup.js';
import { token } from './scenarios/token.js';

/**
 * `npm run bench`: compiles the broker and the bench (bench/tsconfig.build.json), then runs
 * this. Every scenario runs its servers and load generators as processes of their own, on a
 * Redis on loopback, for a bounded time; the results are printed as a table and written to
 * bench/results.json. See BENCHMARKS.md.
 */
const scenarios: Record<ScenarioName, (context: ScenarioContext) => Promise<ScenarioResult>> = {
  startup,
  qr,
  collect,
  token,
  login,
  scale,
  poll,
};

/**
 * However a run goes, it ends by itself: well under this, or it is stopped here. BENCH_WATCHDOG_MINUTES
 * raises it: on a busy machine, starting 10,000 logins and opening their streams twice takes longer.
 */
const WATCHDOG_MS = (Number(process.env.BENCH_WATCHDOG_MINUTES) || 15) * 60_000;

const log = (message: string) => console.log(message);

async function main(): Promise<number> {
  if (!import.meta.url.endsWith('.js')) throw new Error('run the bench with `npm run bench`: it runs the compiled broker');
  const options = readOptions();
  const startedAt = Date.now();
  let redis: BenchRedis | undefined;
  let bed: Bed | undefined;
  let cleaning: Promise<void> | undefined;
  cleanUp = () =>
    (cleaning ??= (async () => {
      try {
        await bed?.close();
        await redis?.close();
      } finally {
        await stopAll();
      }
    })());
  const results: ScenarioResult[] = [];
  try {
    redis = await openBenchRedis(options.redisUrl);
    const environment: Environment = {
      date: new Date().toISOString(),
      // The servers' node, which BENCH_NODE may choose; the bench's own runs the load generators.
      node: execFileSync(options.serverNode, ['--version'], { encoding: 'utf8' }).trim(),
      cores: options.cores,
      cpu: cpus()[0]?.model ?? 'unknown',
      redis: redis.version,
      redisPrivate: redis.private,
      quick: options.quick,
    };
    log(
      `Nordic eID Broker bench: ${environment.cores} cores (${environment.cpu}), Node ${environment.node}, ` +
        `Redis ${environment.redis} (${redis.private ? 'private redis-server' : redis.url})${options.quick ? ', quick' : ''}`,
    );
    bed = await openBed(redis, { profile: options.profile, node: options.serverNode });
    for (const name of scenarioNames.filter((candidate) => options.only.has(candidate))) {
      log(`\n${name}`);
      const scenarioStarted = Date.now();
      const load = watchOtherLoad(livePids);
      const result = await scenarios[name]({ options, redis, bed, log });
      const { otherCores, benchCores } = load.stop();
      results.push({ ...result, otherLoadCores: otherCores });
      log(
        `  (${Math.round((Date.now() - scenarioStarted) / 1000)} s; the bench used ${benchCores.toFixed(2)} cores, ` +
          `other processes on the machine ${otherCores.toFixed(2)} cores)`,
      );
    }

    const qrResult = results.find((result) => result.name === 'qr');
    const scaleResult = results.find((result) => result.name === 'scale');
    const share = qrResult && scaleResult && qrShareOfPoll(qrResult, scaleResult.runs as ScaleRuns);
    if (share) qrResult.figures.push(share);

    log(`\nResults (${environment.date}, ${Math.round((Date.now() - startedAt) / 1000)} s in all)\n`);
    log(table(results, environment));
    const resultsFile = join(projectRoot, 'bench', 'results.json');
    writeResults(resultsFile, results, environment);
    log(`\nWritten to ${resultsFile}`);
  } finally {
    await cleanUp();
  }
  if (options.profile) {
    log(`\nCPU profiles in ${profileDir} (open them in Chrome DevTools or speedscope):`);
    const written = readdirSync(profileDir).filter((name) => name.endsWith('.cpuprofile') && statSync(join(profileDir, name)).mtimeMs >= startedAt);
    for (const file of written) {
      log(`\n${describeProfile(join(profileDir, file), `${projectRoot}/`)}`);
    }
  }
  return 0;
}

/** Ends every process, removes the bench's files and its keys; set once the run has begun. */
let cleanUp: () => Promise<void> = stopAll;

/** Stops the run now, cleaning up within a few seconds, or leaving it to the exit handlers. */
function abort(code: number): void {
  const giveUp = setTimeout(() => process.exit(code), 15_000);
  void cleanUp()
    .catch(() => undefined)
    .finally(() => {
      clearTimeout(giveUp);
      process.exit(code);
    });
}

const watchdog = setTimeout(() => {
  console.error(`the bench ran past ${WATCHDOG_MS / 60_000} minutes: stopping`);
  abort(1);
}, WATCHDOG_MS);
watchdog.unref();

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => abort(130));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    abort(1);
  },
);
