import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { openBed, type Bed, type RunningServer } from '../lib/bed.js';
import { fullLogin, LOGIN_SCOPE, tokenRequest } from '../lib/flows.js';
import { keepAliveAgent, send } from '../lib/http.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProcess, stopAll, type BenchProcess } from '../lib/processes.js';
import { openBenchRedis } from '../lib/redis.js';
import { median } from '../lib/stats.js';
import { cpuSeconds } from '../lib/proc.js';

/**
 * Not a scenario: the work one refresh_token grant costs the broker and bare oidc-provider,
 * counted rather than timed, so that a change of a few percent shows on a shared machine (CPU
 * time per grant moved ±10 % between rounds there). Each server (the bundle, as the token
 * scenario runs it, or bench/targets/bare-provider.ts) is started for the run alone; refresh
 * tokens come from real logins; `warm-up` grants are sent; then `windows` windows of exactly
 * `grants` grants each (over `connections` kept-alive connections, the tokens in turn) are
 * counted, and the figure per grant of each window is printed, with their median and mean.
 *
 * Instructions (the default): the server runs under `valgrind --tool=callgrind`, and V8 without
 * its optimizing compiler (BASELINE_ONLY), whose background compiling and deoptimizations swung a
 * window's count by ±20 %. Counting is zeroed after the warm-up (`callgrind_control -z`) and
 * dumped after each window (`callgrind_control -d`, which zeroes it again). The figure is a
 * window's instructions, every thread of the process, less garbage collection's
 * (GARBAGE_COLLECTION), which are printed apart since a full collection falls in every other
 * window; what is left spreads by about ±1 % between windows. Baseline code weighs the
 * JavaScript's own work more than TurboFan's code would, and valgrind runs a server some fifty
 * times slower, so the timers that gather work (the log lines' 10 ms hold, the audit stream's
 * 50 ms batch) gather fewer grants than at full speed: the count is that of a lightly loaded
 * server, for A/B. It also follows the server's speed a little (one build counted 6.55 and 6.68
 * million at different times), so an A/B runs both builds side by side, at the same speed.
 * Node's JIT code has no names in callgrind; the native functions do (V8's builtins and
 * collector, OpenSSL, libuv): GRANT_DUMPS=<folder> keeps the dumps (callgrind.<pid>.<window>)
 * for `callgrind_annotate`. Where the JavaScript's time goes is for `BENCH_PROFILE=1`.
 *
 * System calls (GRANT_COUNT=syscalls): the kernel's side, which instructions leave out. The
 * server runs as it is, at full speed, and `strace -f -c` is attached to all its threads for
 * each window; the figure is the calls per grant, printed in all and by name.
 *
 *   npx tsc -b bench/tsconfig.build.json && node scripts/bundle.js node_modules/.cache/nordic-eid-bench/broker
 *   node node_modules/.cache/nordic-eid-bench/bench/tools/grant-instructions.js [grants a window, 200] [windows, 4] [warm-up grants, 600] [runs, 1] [connections, 4]
 *
 * BENCH_REDIS_URL and BENCH_NODE are read as by `npm run bench`. GRANT_NODE_FLAGS adds node flags to
 * the servers' (space-separated; V8 flags that NODE_OPTIONS does not take, e.g. `--heap-growing-percent=0`
 * for V8's own heap growth instead of the broker's). GRANT_TARGETS=broker counts the
 * broker alone: for an A/B of two broker builds, run each tree's copy of this tool at the same
 * time (bare oidc-provider's count does not change). With the defaults a broker takes about five
 * minutes under valgrind, bare oidc-provider three.
 */

const [grants = 200, windows = 4, warmUp = 600, runs = 1, connections = 4] = process.argv.slice(2).map(Number);
/** GRANT_TARGETS=broker: the broker alone, for an A/B of two broker builds (bare oidc-provider does not change). */
const targets = (process.env.GRANT_TARGETS ?? 'broker,bare').split(',') as Kind[];
type Kind = 'broker' | 'bare';
const REFRESH_TOKENS = 10;

/** GRANT_DUMPS=<folder>: callgrind's dumps are written there and kept, for callgrind_annotate. */
const keptDumps = process.env.GRANT_DUMPS;
const outDir = keptDumps ? (mkdirSync(keptDumps, { recursive: true }), keptDumps) : mkdtempSync(join(tmpdir(), 'neb-grant-count-'));

/** What is counted over a window of grants, and how: started before the window, read after it. */
interface Counter {
  unit: string;
  launcher?: string[];
  nodeFlags?: string[];
  start(server: BenchProcess): Promise<void>;
  /** What is compared: the count since start (instructions: all but garbage collection's), with the parts worth printing. */
  read(server: BenchProcess): Promise<{ figure: number; parts: Record<string, number> }>;
}

/**
 * Where V8 collects garbage, by the native functions callgrind names (their inclusive counts): its
 * platform's worker threads (without TurboFan, BASELINE_ONLY, they run nothing but the
 * collector's jobs: scavenging, concurrent marking, sweeping) and the main thread's collections.
 * A full collection's concurrent marking falls in every other window or so: counted apart, the
 * rest of a window is steady.
 */
const GARBAGE_COLLECTION = ['node::(anonymous namespace)::PlatformWorkerThread(', 'v8::internal::Heap::CollectGarbage('];

/** Inclusive instructions of each function of `names` in a dump, summed (callgrind_annotate). */
function inclusiveOf(dump: string, names: readonly string[]): number {
  const annotated = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', dump], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n');
  let sum = 0;
  for (const name of names) {
    const line = annotated.find((candidate) => candidate.includes(`:${name}`));
    sum += Number(/^\s*([\d,]+)/.exec(line ?? '')?.[1]?.replaceAll(',', '') ?? 0);
  }
  return sum;
}

/**
 * The instructions (Ir) of the dump `callgrind_control -d` makes of `pid` (which also zeroes its
 * counts): all but garbage collection's, which swing with where a full collection falls, and those apart.
 */
function dumpedInstructions(pid: number): { figure: number; parts: Record<string, number> } {
  const before = new Set(readdirSync(outDir));
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const dump = readdirSync(outDir).find((name) => name.startsWith(`callgrind.${pid}.`) && !before.has(name));
  if (!dump) throw new Error(`callgrind wrote no dump for ${pid}`);
  const total = Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(join(outDir, dump), 'utf8'))?.[1]);
  if (!total) throw new Error(`no total in ${dump}`);
  const gc = inclusiveOf(join(outDir, dump), GARBAGE_COLLECTION);
  return { figure: total - gc, parts: { all: total, 'garbage collection': gc } };
}

/**
 * V8 without its optimizing compiler: code runs as bytecode and baseline code, compiled once. With
 * TurboFan, a window's count swung by ±20 %: a third of a window could be TurboFan compiling on
 * its background threads, and a window after a deoptimization ran slower code.
 */
const BASELINE_ONLY = ['--no-opt'];
/** GRANT_NODE_FLAGS: more node flags for the servers (after BASELINE_ONLY when counting instructions). */
const givenNodeFlags = (process.env.GRANT_NODE_FLAGS ?? '').split(' ').filter(Boolean);

const instructions: Counter = {
  unit: 'instructions',
  nodeFlags: BASELINE_ONLY,
  launcher: ['valgrind', '--tool=callgrind', '--dump-instr=no', '--dump-line=no', `--callgrind-out-file=${outDir}/callgrind.%p`],
  // Zeroed once: each window's dump zeroes the counts for the next.
  start: async ({ pid }) => void (windowsCounted++ === 0 && execFileSync('callgrind_control', ['-z', String(pid)], { stdio: 'ignore' })),
  read: async ({ pid }) => dumpedInstructions(pid),
};
let windowsCounted = 0;

/** `strace -c` attached to every thread of the server for the window: system calls by name. */
function systemCalls(): Counter {
  let tracer: BenchProcess | undefined;
  const file = join(outDir, 'strace.txt');
  return {
    unit: 'system calls per grant',
    async start({ pid }) {
      tracer = startProcess('strace', 'strace', { args: ['-f', '-c', '-o', file, '-p', String(pid)] });
      // strace says so on stderr once it holds the process's threads.
      await tracer.line(() => /attached/.test(tracer!.output()), 10_000).catch(() => undefined);
      await sleep(500);
    },
    async read() {
      tracer!.child.kill('SIGINT');
      await tracer!.exited;
      const parts: Record<string, number> = {};
      for (const [, calls, name] of readFileSync(file, 'utf8').matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/gm)) parts[name!] = Number(calls);
      const { total = NaN, ...byName } = parts;
      return { figure: total, parts: byName };
    },
  };
}

/**
 * V8's collections of the server over the window, at full speed (`--trace-gc`: a line each, in
 * the server's log file beside its JSON lines). The figure is full collections (Mark-Compact),
 * which follow from what a grant promotes and how far the heap may grow, not from the machine's
 * speed; the parts are scavenges, the main thread's milliseconds of both, and the process's CPU
 * milliseconds (all threads, from /proc: on a busy machine, for side-by-side runs only).
 */
function collections(): Counter {
  let logFile = '';
  let logOffset = 0;
  let cpuMsAtStart = 0;
  return {
    unit: 'full collections per grant',
    nodeFlags: ['--trace-gc'],
    async start({ pid }) {
      logFile = readlinkSync(`/proc/${pid}/fd/1`);
      logOffset = statSync(logFile).size;
      cpuMsAtStart = cpuSeconds(pid) * 1000;
    },
    async read({ pid }) {
      await sleep(100); // the window's last lines
      const cpuMs = cpuSeconds(pid) * 1000 - cpuMsAtStart;
      const parts = { scavenges: 0, 'scavenge ms': 0, 'full collection ms': 0, 'cpu ms': cpuMs };
      let full = 0;
      const written = readFileSync(logFile).subarray(logOffset).toString();
      for (const [, kind, ms] of written.matchAll(/ms: (Mark-Compact|Scavenge)\b[^,]*, (?:pooled: [\d.]+ MB, )?([\d.]+) \//g)) {
        if (kind === 'Scavenge') {
          parts.scavenges += 1;
          parts['scavenge ms'] += Number(ms);
        } else {
          full += 1;
          parts['full collection ms'] += Number(ms);
        }
      }
      return { figure: full, parts };
    },
  };
}

/** GRANT_COUNT=syscalls counts system calls (strace) instead of instructions: the kernel's share of a grant; GRANT_COUNT=collections, V8's collections. */
const counter = process.env.GRANT_COUNT === 'syscalls' ? systemCalls() : process.env.GRANT_COUNT === 'collections' ? collections() : instructions;

/** Sends `count` refresh_token grants over `connections` kept-alive connections, the tokens in turn; every answer must be 200. */
async function sendGrants(dispatcher: Dispatcher, server: RunningServer, bodies: string[], count: number): Promise<void> {
  const { headers } = tokenRequest(server.target.client, {});
  let next = 0;
  const loop = async () => {
    while (next < count) {
      const body = bodies[next++ % bodies.length]!;
      const answer = await send(dispatcher, `${server.url}/token`, { method: 'POST', headers, body });
      if (answer.status !== 200) throw new Error(`${server.target.kind} answered a grant ${answer.status}: ${answer.text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
}

/** The count per grant of one server, started for this run alone: one figure per window. */
async function countPerGrant(bed: Bed, kind: Kind, run: number): Promise<number[]> {
  const server = kind === 'broker' ? await bed.startBroker(`grant-broker-${run}`) : await bed.startBare(`grant-bare-${run}`);
  const dispatcher = keepAliveAgent(connections);
  try {
    const bodies: string[] = [];
    for (let i = 0; i < REFRESH_TOKENS; i += 1) {
      const tokens = await fullLogin(dispatcher, server.target, `${LOGIN_SCOPE} offline_access`, { prompt: 'consent' });
      if (!tokens.refresh_token) throw new Error(`${kind} issued no refresh token`);
      bodies.push(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }).toString());
    }
    await sendGrants(dispatcher, server, bodies, warmUp);
    windowsCounted = 0;
    const perWindow: number[] = [];
    for (let window = 0; window < windows; window += 1) {
      await counter.start(server.process);
      await sendGrants(dispatcher, server, bodies, grants);
      const { figure, parts } = await counter.read(server.process);
      perWindow.push(figure / grants);
      console.log(`  ${kind}, window ${window + 1}: ${Object.entries(parts).sort((x, y) => y[1] - x[1]).map(([name, count]) => `${name} ${shown(count / grants)}`).join(', ')}`);
    }
    return perWindow;
  } finally {
    await dispatcher.close();
    await server.stop();
  }
}

const shown = (value: number) => (counter === instructions ? Math.round(value / 1000).toLocaleString('en') : value.toFixed(4));
const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

const redis = await openBenchRedis(process.env.BENCH_REDIS_URL);
const bed = await openBed(redis, {
  profile: false,
  node: process.env.BENCH_NODE ?? process.execPath,
  ...(counter.launcher ? { launcher: counter.launcher } : {}),
  nodeFlags: [...(counter.nodeFlags ?? []), ...givenNodeFlags],
});
// Ended by Ctrl-C or a timeout, the servers and their tracers end too (processes.ts ends them at exit).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1));
const measured: Record<Kind, number[]> = { broker: [], bare: [] };
try {
  console.log(`windows of ${grants} grants, ${windows} a run, after ${warmUp} to warm up; ${connections} connections, ${runs} runs; ${counter === instructions ? 'thousands of instructions but garbage collection\'s per grant' : counter.unit}`);
  for (let run = 0; run < runs; run += 1) {
    for (const kind of targets) {
      const perWindow = await countPerGrant(bed, kind, run);
      measured[kind].push(...perWindow);
      console.log(`run ${run + 1}, ${kind}: ${perWindow.map(shown).join(', ')} (median ${shown(median(perWindow))}, mean ${shown(mean(perWindow))})`);
    }
  }
  for (const kind of targets) console.log(`${kind}, all windows: median ${shown(median(measured[kind]))}, mean ${shown(mean(measured[kind]))}`);
  if (targets.length === 2) console.log(`broker/bare: medians ${(median(measured.broker) / median(measured.bare)).toFixed(3)}, means ${(mean(measured.broker) / mean(measured.bare)).toFixed(3)}`);
} finally {
  await bed.close();
  await redis.close();
  await stopAll();
  if (!keptDumps) rmSync(outDir, { recursive: true, force: true });
}
