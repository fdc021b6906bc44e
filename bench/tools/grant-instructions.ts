import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

/**
 * Not a scenario: the machine instructions one refresh_token grant costs the broker and bare
 * oidc-provider, counted by valgrind's callgrind. A count of instructions does not depend on
 * what else the machine runs, as CPU time does (±10 % between rounds on a shared machine), so
 * a change of a few percent shows. Each server (the bundle, as the token scenario runs it, and
 * bench/targets/bare-provider.ts) runs under `valgrind --tool=callgrind`; refresh tokens come
 * from real logins; `warm-up` grants let V8 compile what a grant runs; then callgrind's counts
 * are zeroed (`callgrind_control -z`) and `windows` windows of exactly `grants` grants are sent,
 * the counts dumped and zeroed after each (`callgrind_control -d`). A window's figure is its
 * dump's total (every thread of the process: V8's compilers and garbage collector too) divided
 * by its grants. A window that holds a full garbage collection or a late compilation counts
 * more, so the median of the windows is the figure to compare, the mean beside it. The servers
 * run one after the other, broker then bare, `runs` times.
 *
 * What this counts is user-space instructions: the kernel's side of the system calls (sockets,
 * log writes) is not in it, nor the memory stalls of a larger heap. GRANT_COUNT=syscalls counts
 * that side instead: the server runs as it is (no valgrind, full speed), `strace -f -c` is
 * attached to all its threads for each window, and the system calls per grant are printed, in
 * all and by name. Node's JIT code has no names
 * in callgrind, so the totals are for A/B; where they go is for `BENCH_PROFILE=1`
 * (bench/lib/profile.ts). Under valgrind a server runs some fifty times slower, so the timers
 * that gather work (the log lines' 10 ms hold, the audit stream's 50 ms batch) gather fewer
 * grants than at full speed: the count is that of a lightly loaded server.
 *
 *   npx tsc -b bench/tsconfig.build.json && node scripts/bundle.js node_modules/.cache/nordic-eid-bench/broker
 *   node node_modules/.cache/nordic-eid-bench/bench/tools/grant-instructions.js [grants a window, 200] [windows, 5] [warm-up grants, 1500] [runs, 1] [connections, 4]
 *
 * BENCH_REDIS_URL and BENCH_NODE are read as by `npm run bench`; GRANT_TARGETS=broker measures the
 * broker alone (an A/B of two broker builds, each tree running its own copy of this tool at the
 * same time: bare oidc-provider's count does not change). GRANT_DUMPS=<folder> keeps callgrind's
 * dumps (callgrind.<pid>.<window>) there: `callgrind_annotate --inclusive=no` on a window's dump
 * names the native functions (V8's garbage collector and builtins, OpenSSL, libuv) by their
 * instructions, which compares broker and bare where the JIT's code cannot. About four minutes for the broker, two
 * for bare, with the defaults.
 */

const [grants = 200, windows = 5, warmUp = 1500, runs = 1, connections = 4] = process.argv.slice(2).map(Number);
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
  start(pid: number): Promise<void>;
  /** The count since start, with the parts worth printing (system calls by name). */
  read(pid: number): Promise<{ total: number; parts?: Record<string, number> }>;
}

/** The total instructions (Ir) of the dump `callgrind_control -d` makes of `pid` (which also zeroes its counts). */
function dumpedInstructions(pid: number): number {
  const before = new Set(readdirSync(outDir));
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const dump = readdirSync(outDir).find((name) => name.startsWith(`callgrind.${pid}.`) && !before.has(name));
  if (!dump) throw new Error(`callgrind wrote no dump for ${pid}`);
  const total = /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(outDir, dump), 'utf8'))?.[1];
  if (total === undefined) throw new Error(`no total in ${dump}`);
  return Number(total);
}

/**
 * V8 without its optimizing compiler: code runs as bytecode and baseline code, compiled once. With
 * TurboFan, a window's count swung by ±20 %: a third of a window could be TurboFan compiling on
 * its background threads, and a window after a deoptimization ran slower code.
 */
const BASELINE_ONLY = ['--no-opt'];

const instructions: Counter = {
  unit: 'instructions',
  nodeFlags: BASELINE_ONLY,
  launcher: ['valgrind', '--tool=callgrind', '--dump-instr=no', '--dump-line=no', `--callgrind-out-file=${outDir}/callgrind.%p`],
  // Zeroed once: each window's dump zeroes the counts for the next.
  start: async (pid) => void (windowsCounted++ === 0 && execFileSync('callgrind_control', ['-z', String(pid)], { stdio: 'ignore' })),
  read: async (pid) => ({ total: dumpedInstructions(pid) }),
};
let windowsCounted = 0;

/** `strace -c` attached to every thread of the server for the window: system calls by name. */
function systemCalls(): Counter {
  let tracer: BenchProcess | undefined;
  const file = join(outDir, 'strace.txt');
  return {
    unit: 'system calls',
    async start(pid) {
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
      return { total, parts: byName };
    },
  };
}

/** GRANT_COUNT=syscalls counts system calls (strace) instead of instructions: the kernel's share of a grant. */
const counter = process.env.GRANT_COUNT === 'syscalls' ? systemCalls() : instructions;

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
      await counter.start(server.process.pid);
      await sendGrants(dispatcher, server, bodies, grants);
      const { total, parts } = await counter.read(server.process.pid);
      perWindow.push(total / grants);
      if (parts) console.log(`  ${kind}, window ${window + 1}: ${Object.entries(parts).sort((x, y) => y[1] - x[1]).map(([name, calls]) => `${name} ${(calls / grants).toFixed(2)}`).join(', ')}`);
    }
    return perWindow;
  } finally {
    await dispatcher.close();
    await server.stop();
  }
}

const shown = (value: number) => (counter === instructions ? Math.round(value / 1000).toLocaleString('en') : value.toFixed(2));
const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

const redis = await openBenchRedis(process.env.BENCH_REDIS_URL);
const bed = await openBed(redis, {
  profile: false,
  node: process.env.BENCH_NODE ?? process.execPath,
  ...(counter.launcher ? { launcher: counter.launcher } : {}),
  ...(counter.nodeFlags ? { nodeFlags: counter.nodeFlags } : {}),
});
// Ended by Ctrl-C or a timeout, the servers and their tracers end too (processes.ts ends them at exit).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1));
const measured: Record<Kind, number[]> = { broker: [], bare: [] };
try {
  console.log(`windows of ${grants} grants, ${windows} a run, after ${warmUp} to warm up; ${connections} connections, ${runs} runs; ${counter === instructions ? 'thousands of instructions' : 'system calls'} per grant`);
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
