import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { openBed, type Bed, type RunningServer } from '../lib/bed.js';
import { fullLogin, LOGIN_SCOPE, tokenRequest } from '../lib/flows.js';
import { keepAliveAgent, send } from '../lib/http.js';
import { stopAll } from '../lib/processes.js';
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
 * log writes) is not in it, nor the memory stalls of a larger heap. Node's JIT code has no names
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
/**
 * V8 in its predictable mode: no background threads (compilation and garbage collection on the
 * main thread, counted the same way every run) and a fixed schedule of heap growth, so that a
 * window's count depends on the code run rather than on when a background task happened to run.
 */
const PREDICTABLE = ['--predictable', '--predictable-gc-schedule'];

/** GRANT_DUMPS=<folder>: callgrind's dumps are written there and kept, for callgrind_annotate. */
const keptDumps = process.env.GRANT_DUMPS;
const outDir = keptDumps ? (mkdirSync(keptDumps, { recursive: true }), keptDumps) : mkdtempSync(join(tmpdir(), 'neb-callgrind-'));
const launcher = ['valgrind', '--tool=callgrind', '--dump-instr=no', '--dump-line=no', `--callgrind-out-file=${outDir}/callgrind.%p`];

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

/** Instructions per grant of one server, started under callgrind for this run alone: one figure per window. */
async function instructionsPerGrant(bed: Bed, kind: Kind, run: number): Promise<number[]> {
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
    execFileSync('callgrind_control', ['-z', String(server.process.pid)], { stdio: 'ignore' });
    const perWindow: number[] = [];
    for (let window = 0; window < windows; window += 1) {
      await sendGrants(dispatcher, server, bodies, grants);
      perWindow.push(dumpedInstructions(server.process.pid) / grants);
    }
    return perWindow;
  } finally {
    await dispatcher.close();
    await server.stop();
  }
}

const thousands = (value: number) => Math.round(value / 1000).toLocaleString('en');
const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

const redis = await openBenchRedis(process.env.BENCH_REDIS_URL);
const bed = await openBed(redis, { profile: false, node: process.env.BENCH_NODE ?? process.execPath, launcher, nodeFlags: PREDICTABLE });
const measured: Record<Kind, number[]> = { broker: [], bare: [] };
try {
  console.log(`windows of ${grants} grants, ${windows} a run, after ${warmUp} to warm up; ${connections} connections, ${runs} runs; thousands of instructions per grant`);
  for (let run = 0; run < runs; run += 1) {
    for (const kind of targets) {
      const perWindow = await instructionsPerGrant(bed, kind, run);
      measured[kind].push(...perWindow);
      console.log(`run ${run + 1}, ${kind}: ${perWindow.map(thousands).join(', ')} (median ${thousands(median(perWindow))}, mean ${thousands(mean(perWindow))})`);
    }
  }
  for (const kind of targets) console.log(`${kind}, all windows: median ${thousands(median(measured[kind]))}, mean ${thousands(mean(measured[kind]))}`);
  if (targets.length === 2) console.log(`broker/bare: medians ${(median(measured.broker) / median(measured.bare)).toFixed(3)}, means ${(mean(measured.broker) / mean(measured.bare)).toFixed(3)}`);
} finally {
  await bed.close();
  await redis.close();
  await stopAll();
  if (!keptDumps) rmSync(outDir, { recursive: true, force: true });
}
