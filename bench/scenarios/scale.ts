import { setTimeout as sleep } from 'node:timers/promises';
import { compiled, type RunningServer } from '../lib/bed.js';
import { CpuMeter, openFilesLimit, watchPeakMemory } from '../lib/proc.js';
import { startNode, steer, type BenchProcess } from '../lib/processes.js';
import { reproduceCommand, type Figure, type ScenarioContext, type ScenarioResult } from '../lib/report.js';
import { median } from '../lib/stats.js';
import type { GrowOutcome, OpenOutcome, WaitingWindow } from '../load/waiting-pages.js';

/**
 * 3. Waiting BankID logins at scale: N logins on another device, each with its order pending
 * at BankID (the simulator's pickup timeout is long, so none fails), and each person's page
 * in a load generator of its own process (waiting-pages). The same logins are waited on two
 * ways, one after the other:
 *
 * - on the event stream: one SSE connection per login. N grows step by step on one broker
 *   instance (the streams of a step stay open into the next); then the largest N is spread
 *   over two instances on the same Redis.
 * - on the JSON poll path: the first N logins poll `api/poll?qr=true` about once a second,
 *   each on a kept-alive connection of its own.
 *
 * At each step, after a warm-up, a few measuring windows record frame delay or poll latency,
 * BankID collects, Redis commands, and the brokers' CPU and RSS.
 */

/** What every window measures, whichever way the pages wait. */
interface MeasuredWindow {
  seconds: number;
  /** BankID collects per order per poll_frequency: at most 1 by design. */
  collectsPerOrder: number;
  /** All instances together, in cores. */
  brokerCores: number;
  /** The highest of any instance. */
  brokerPeakRssMb: number;
  /** Of that instance at its peak: mapped from files (node and its libraries), and glibc's malloc heap. */
  brokerPeakFileMb: number;
  brokerPeakMallocHeapMb: number;
  /** Redis commands (the bench's own INFO calls included) per waiting login per second. */
  redisCommandsPerLoginSecond: number;
  /** What shared the machine meanwhile, in cores. */
  loadGeneratorCores: number;
  simulatorCores: number;
  redisCores?: number;
  waiting: WaitingWindow;
}

interface StepMemory {
  /** INFO used_memory after the logins started, less before any, per login. */
  redisBytesPerOrder: number;
  /** MEMORY USAGE of the broker's keys, per login: the same, counted key by key. */
  redisKeyBytesPerOrder: number;
  redisKeysPerOrder: number;
  /** MEMORY USAGE of the order key alone (`se-bankid:order:<uid>`), per login. */
  redisOrderKeyBytes: number;
}

export interface StreamStep extends StepMemory {
  n: number;
  instances: number;
  grow?: GrowOutcome;
  open: OpenOutcome;
  windows: MeasuredWindow[];
  p50Ms: number;
  p99Ms: number;
  framesPerLoginSecond: number;
  cpuMsPerLoginSecond: number;
  held: boolean;
}

export interface PollStep {
  n: number;
  windows: MeasuredWindow[];
  p50Ms: number;
  p99Ms: number;
  pollsPerSecond: number;
  cpuMsPerPoll: number;
  /** The load generator's CPU per poll: what the pages took of the cores the broker runs on. */
  loadGeneratorCpuMsPerPoll: number;
  held: boolean;
  endedLogins: number;
}

type Skipped = { n: number; instances?: number; skipped: string };

export interface ScaleRuns {
  streams: Array<StreamStep | Skipped>;
  polls: Array<PollStep | Skipped>;
}

const STREAM_TARGET_N = 10_000;
const POLL_TARGET_N = 5_000;
const TARGETS = {
  frameP99Ms: 100,
  cpuMsPerLoginSecond: 0.05,
  collectsPerOrder: 1,
  rssMb: 300,
  pollP99Ms: 250,
};

/**
 * A step holds when the broker still does the job: at most 1 % of polls or streams fail, no
 * login ends, and 99 % of frames or polls come within a second. Larger steps are run only
 * after one that held.
 */
const HOLDS_BELOW_P99_MS = 1000;

/** Open files a process needs besides its pages' connections: Redis, the simulator, its listening socket, modules. */
const OPEN_FILES_BESIDES_PAGES = 500;

const isRun = <T extends object>(step: T | Skipped): step is T => !('skipped' in step);

export async function scale({ options, bed, redis, log }: ScenarioContext): Promise<ScenarioResult> {
  const settings = options.scale;
  // Logins must outlast the whole scenario: the broker's own limits are set long.
  const brokerSettings = {
    bankid: { poll_frequency: settings.pollFrequency, allowed_polling_for_minutes: 30 },
    ttl: { interaction: 1800 },
  };
  const broker = await bed.startBroker('scale-broker', brokerSettings);
  const pages = startWaitingPages({ bed, redis }, broker, settings);
  const control = steer(pages);
  const runs: ScaleRuns = { streams: [], polls: [] };
  let second: RunningServer | undefined;
  try {
    await control.ready();
    const memoryBefore = await redis.usedMemory();

    /** Starts logins until there are n; what Redis holds for them. */
    const grow = async (n: number): Promise<{ grow: GrowOutcome } & StepMemory> => {
      const grown = await control.send<GrowOutcome>('grow', { total: n }, 600_000);
      log(`  ${grown.total} logins waiting (${grown.failed} failed to start, ${grown.seconds.toFixed(1)} s to start them)`);
      const keys = await redis.prefixMemory(broker.prefix);
      const orderKeys = await redis.prefixMemory(`${broker.prefix}se-bankid:order:`);
      return {
        grow: grown,
        redisBytesPerOrder: ((await redis.usedMemory()) - memoryBefore) / grown.total,
        redisKeyBytesPerOrder: keys.bytes / grown.total,
        redisKeysPerOrder: keys.keys / grown.total,
        redisOrderKeyBytes: orderKeys.bytes / Math.max(1, orderKeys.keys),
      };
    };

    /** Warm-up, then the windows, all instances measured together. */
    const measure = async (brokers: RunningServer[], n: number, describe: (window: MeasuredWindow) => string) => {
      await sleep(settings.warmupSeconds * 1000);
      await control.send('mark');
      const windows: MeasuredWindow[] = [];
      for (let w = 0; w < settings.windows; w += 1) {
        windows.push(await measureWindow(brokers, n));
        const last = windows.at(-1)!;
        log(
          `    window ${w + 1}: ${describe(last)}, collects/order/${settings.pollFrequency}s ${last.collectsPerOrder.toFixed(2)}, ` +
            `broker CPU ${last.brokerCores.toFixed(2)} cores (load generator ${last.loadGeneratorCores.toFixed(2)}, ` +
            `simulator ${last.simulatorCores.toFixed(2)}, Redis ${last.redisCores?.toFixed(2) ?? '?'}), RSS ${Math.round(last.brokerPeakRssMb)} MB (${rssParts(last)})`,
        );
      }
      return windows;
    };

    const measureWindow = async (brokers: RunningServer[], n: number): Promise<MeasuredWindow> => {
      const cpu = brokers.map((server) => new CpuMeter(server.process.pid));
      const neighbours = {
        loadGenerator: new CpuMeter(pages.pid),
        simulator: new CpuMeter(bed.simulator.pid),
        ...(redis.pid ? { redis: new CpuMeter(redis.pid) } : {}),
      };
      const memory = brokers.map((server) => watchPeakMemory(server.process.pid));
      const collectsBefore = (await bed.simulatorStats()).collect;
      const commandsBefore = await redis.commandsProcessed();
      await sleep(settings.windowSeconds * 1000);
      const waiting = await control.send<WaitingWindow>('mark');
      const collects = (await bed.simulatorStats()).collect - collectsBefore;
      const commands = (await redis.commandsProcessed()) - commandsBefore;
      const used = cpu.map((meter) => meter.read());
      const seconds = used[0]!.seconds;
      const peak = memory.map((watch) => watch.stop()).reduce((higher, next) => (next.rssBytes > higher.rssBytes ? next : higher));
      return {
        seconds,
        collectsPerOrder: collects / ((n * seconds) / settings.pollFrequency),
        brokerCores: used.reduce((sum, { cores }) => sum + cores, 0),
        brokerPeakRssMb: peak.rssBytes / MB,
        brokerPeakFileMb: peak.fileBytes / MB,
        brokerPeakMallocHeapMb: peak.mallocHeapBytes / MB,
        redisCommandsPerLoginSecond: commands / (n * seconds),
        loadGeneratorCores: neighbours.loadGenerator.read().cores,
        simulatorCores: neighbours.simulator.read().cores,
        ...(neighbours.redis ? { redisCores: neighbours.redis.read().cores } : {}),
        waiting,
      };
    };

    /** Whether every process fits its sockets under its open files limit; why not, if not. */
    const tooFewFiles = (needs: Array<{ pid: number; sockets: number; name: string }>): string | undefined => {
      for (const { pid, sockets, name } of needs) {
        const limit = openFilesLimit(pid);
        if (sockets + OPEN_FILES_BESIDES_PAGES > limit) return `the ${name} may open ${limit} files (ulimit -n), ${sockets} connections need more`;
      }
      return undefined;
    };

    const streamStep = async (n: number, brokers: RunningServer[], memory: StepMemory & { grow?: GrowOutcome }): Promise<StreamStep> => {
      const instances = brokers.map((server) => ({ host: '127.0.0.1', port: Number(new URL(server.url).port) }));
      const open = await control.send<OpenOutcome>('stream', { instances }, 600_000);
      const refused = Object.entries(open.refused).map(([status, count]) => `${count}× ${status}`);
      log(`  ${open.open} streams open on ${brokers.length} instance(s) (${open.seconds.toFixed(1)} s to open${refused.length ? `; refused ${refused.join(', ')}` : ''})`);
      const windows = await measure(brokers, n, ({ waiting: { stream }, seconds }) => {
        return (
          `${(stream.frames / (n * seconds)).toFixed(2)} frames/login/s, delay p50 ${ms(stream.delay.p50)}, p99 ${ms(stream.delay.p99)}, ` +
          `dropped ${stream.dropped}, refused ${Object.values(stream.refused).reduce((sum, k) => sum + k, 0)}, ended ${stream.ended}`
        );
      });
      const failed = windows.reduce((sum, { waiting: { stream } }) => sum + stream.dropped + Object.values(stream.refused).reduce((a, b) => a + b, 0), 0);
      const ended = windows.reduce((sum, { waiting: { stream } }) => sum + stream.ended, 0);
      const p99Ms = median(windows.map(({ waiting }) => waiting.stream.delay.p99));
      return {
        n,
        instances: brokers.length,
        ...memory,
        open,
        windows,
        p50Ms: median(windows.map(({ waiting }) => waiting.stream.delay.p50)),
        p99Ms,
        framesPerLoginSecond: median(windows.map(({ waiting, seconds }) => waiting.stream.frames / (n * seconds))),
        cpuMsPerLoginSecond: median(windows.map(({ brokerCores }) => (brokerCores * 1000) / n)),
        held: ended === 0 && failed <= n * 0.01 && open.open >= n * 0.99 && p99Ms < HOLDS_BELOW_P99_MS,
      };
    };

    /** Why a step of `n` pages is not run, if it is not: a socket per page must fit, and above mustHoldAbove the step before must have held. */
    const whyNotRun = (n: number, heldBefore: boolean) =>
      tooFewFiles([
        { pid: pages.pid, sockets: n, name: 'load generator' },
        { pid: broker.process.pid, sockets: n, name: 'broker' },
      ]) ?? (n > settings.mustHoldAbove && !heldBefore ? 'the step before did not hold' : undefined);

    log(' on the event stream:');
    let held = true;
    for (const n of settings.sizes) {
      const skipped = whyNotRun(n, held);
      if (skipped) {
        log(`  N = ${n}: not run, ${skipped}`);
        runs.streams.push({ n, instances: 1, skipped });
        continue;
      }
      const step = await streamStep(n, [broker], await grow(n));
      held = step.held;
      runs.streams.push(step);
    }

    const spreadN = settings.sizes.at(-1);
    await control.send('pause', {}, 120_000);
    const lastStream = runs.streams.at(-1);
    if (spreadN === undefined) {
      // BENCH_SCALE=0: no step on the event stream, so none on two instances either.
    } else if (settings.instances < 2) {
      runs.streams.push({ n: spreadN, instances: 2, skipped: 'BENCH_SCALE_INSTANCES=1' });
    } else if (lastStream && isRun(lastStream)) {
      second = await bed.startBroker('scale-broker-2', { ...brokerSettings, instanceOf: broker });
      const brokers = [broker, second];
      log(` ${spreadN} on the event stream over ${brokers.length} instances:`);
      runs.streams.push(await streamStep(spreadN, brokers, memoryOf(lastStream)));
      await control.send('pause', {}, 120_000);
      await second.stop();
      second = undefined;
    } else {
      runs.streams.push({ n: spreadN, instances: settings.instances, skipped: 'not run on one instance' });
    }

    log(' on the JSON poll path:');
    held = true;
    for (const n of settings.pollSizes) {
      // Each polling page keeps a connection of its own, as a browser tab does.
      const skipped = whyNotRun(n, held);
      if (skipped) {
        log(`  N = ${n}: not run, ${skipped}`);
        runs.polls.push({ n, skipped });
        continue;
      }
      const { grow: grown } = await grow(n);
      await control.send('poll', { count: n });
      const windows = await measure([broker], n, ({ waiting: { poll }, seconds }) => {
        const failed = failedPolls(poll);
        const why = poll.errorSamples.length ? ` (${poll.errorSamples.slice(0, 2).join('; ')})` : '';
        return `${Math.round(poll.polls / seconds)} polls/s, p50 ${ms(poll.latency.p50)}, p99 ${ms(poll.latency.p99)}, 429 ${poll.http429}, failed ${failed}${why}`;
      });
      log(`    load generator CPU per poll: ${windows.map((window) => perPoll(window, window.loadGeneratorCores).toFixed(3)).join(', ')} ms`);
      const { ended } = await control.send<{ ended: number }>('pause', {}, 120_000);
      const polls = windows.reduce((sum, { waiting }) => sum + waiting.poll.polls, 0);
      const failed = windows.reduce((sum, { waiting }) => sum + failedPolls(waiting.poll), 0);
      const p99Ms = median(windows.map(({ waiting }) => waiting.poll.latency.p99));
      held = ended === 0 && failed <= polls * 0.01 && grown.failed <= n * 0.01 && p99Ms < HOLDS_BELOW_P99_MS;
      runs.polls.push({
        n,
        windows,
        p50Ms: median(windows.map(({ waiting }) => waiting.poll.latency.p50)),
        p99Ms,
        pollsPerSecond: median(windows.map(({ waiting, seconds }) => waiting.poll.polls / seconds)),
        cpuMsPerPoll: median(windows.map((window) => perPoll(window, window.brokerCores))),
        loadGeneratorCpuMsPerPoll: median(windows.map((window) => perPoll(window, window.loadGeneratorCores))),
        held,
        endedLogins: ended,
      });
    }
  } finally {
    pages.child.disconnect();
    await pages.stop();
    await second?.stop();
    await broker.stop();
  }

  const note = `median of ${settings.windows} windows of ${settings.windowSeconds} s`;
  return {
    name: 'scale',
    title: '3. Waiting BankID logins',
    reproduce: reproduceCommand('scale'),
    figures: [...runs.streams.flatMap((step) => streamFigures(step, note)), ...runs.polls.flatMap((step) => pollFigures(step, note))],
    runs,
  };
}

/** The load generator of people waiting on `broker`'s BankID pages (load/waiting-pages.ts), steered over IPC. */
export function startWaitingPages(
  { bed, redis }: Pick<ScenarioContext, 'bed' | 'redis'>,
  broker: RunningServer,
  settings: { createConcurrency: number; openConcurrency: number; pollFrequency: number },
): BenchProcess {
  return startNode('waiting-pages', compiled('bench/load/waiting-pages.js'), {
    args: [
      JSON.stringify({
        target: broker.target,
        createConcurrency: settings.createConcurrency,
        openConcurrency: settings.openConcurrency,
        connections: 256,
        spreadMs: settings.pollFrequency * 1000,
        redisUrl: redis.url,
        orderKeyPrefix: `${broker.prefix}se-bankid:order:`,
        storeEncryptionKeys: bed.storeEncryptionKeys,
      }),
    ],
    ipc: true,
  });
}

function memoryOf({ redisBytesPerOrder, redisKeyBytesPerOrder, redisKeysPerOrder, redisOrderKeyBytes }: StepMemory): StepMemory {
  return { redisBytesPerOrder, redisKeyBytesPerOrder, redisKeysPerOrder, redisOrderKeyBytes };
}

/** A process's CPU per poll over a window (ms), from its cores. */
function perPoll({ waiting, seconds }: MeasuredWindow, cores: number): number {
  return (cores * 1000) / (waiting.poll.polls / seconds);
}

function failedPolls(poll: WaitingWindow['poll']): number {
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((total, count) => total + count, 0);
  return poll.networkErrors + sum(poll.httpErrors) + sum(poll.otherStatus);
}

/** A latency for the log: none (null over IPC) when nothing arrived. */
const ms = (value: number | null) => (value === null || !Number.isFinite(value) ? '–' : `${value.toFixed(1)} ms`);
const thousands = (n: number) => n.toLocaleString('en-US');
const MB = 2 ** 20;
const highest = (windows: MeasuredWindow[], field: 'collectsPerOrder') => Math.max(...windows.map((window) => window[field]));
const rssParts = (window: MeasuredWindow) => `${Math.round(window.brokerPeakFileMb)} MB file-backed, ${Math.round(window.brokerPeakMallocHeapMb)} MB malloc heap`;
const medianOf = (windows: MeasuredWindow[], field: 'redisCommandsPerLoginSecond' | 'brokerCores') => median(windows.map((window) => window[field]));

/**
 * The broker's peak RSS over a step's windows, with what two parts of it were at that peak: the
 * file-backed pages (the node binary) and glibc's malloc heap (Node's C++ objects, an HTTP
 * parser per kept-alive connection among them), where Node versions differ most.
 */
function rssFigure(label: string, windows: MeasuredWindow[], note: string): Figure {
  const top = windows.reduce((higher, next) => (next.brokerPeakRssMb > higher.brokerPeakRssMb ? next : higher));
  const rss = top.brokerPeakRssMb;
  return { figure: `${label}: broker RSS`, value: rss, unit: 'MB', target: `< ${TARGETS.rssMb} MB`, met: rss < TARGETS.rssMb, note: `${note}; ${rssParts(top)}` };
}

function memoryFigure(label: string, step: StepMemory): Figure {
  return {
    figure: `${label}: Redis memory per waiting login`,
    value: step.redisBytesPerOrder,
    unit: 'bytes',
    note: `used_memory delta; ${Math.round(step.redisKeyBytesPerOrder)} bytes in ${step.redisKeysPerOrder.toFixed(1)} keys by MEMORY USAGE, of which the order ${Math.round(step.redisOrderKeyBytes)}`,
  };
}

function streamFigures(step: StreamStep | Skipped, note: string): Figure[] {
  const label = `stream, N = ${thousands(step.n)}${step.instances && step.instances > 1 ? ` on ${step.instances} instances` : ''}`;
  if (!isRun(step)) return [{ figure: `${label}: not run`, value: step.skipped, unit: '' }];
  const atTarget = step.n === STREAM_TARGET_N && step.instances === 1;
  const collects = highest(step.windows, 'collectsPerOrder');
  const sum = (pick: (window: WaitingWindow['stream']) => number) => step.windows.reduce((total, { waiting }) => total + pick(waiting.stream), 0);
  const refused = sum((stream) => Object.values(stream.refused).reduce((a, b) => a + b, 0));
  const loopDelay = median(step.windows.map(({ waiting }) => waiting.loopDelayP99Ms));
  return [
    {
      figure: `${label}: QR frame delay p50 / p99`,
      value: `${step.p50Ms.toFixed(1)} / ${step.p99Ms.toFixed(1)}`,
      unit: 'ms',
      ...(atTarget ? { target: `p99 < ${TARGETS.frameP99Ms} ms`, met: step.p99Ms < TARGETS.frameP99Ms } : {}),
      note: `${note}; load generator's own event-loop delay p99 ${loopDelay.toFixed(1)} ms${step.held ? '' : '; did not hold'}`,
    },
    { figure: `${label}: QR frames per login per second`, value: step.framesPerLoginSecond, unit: '', note },
    {
      figure: `${label}: collects per order per poll_frequency`,
      value: collects,
      unit: '',
      target: `≤ ${TARGETS.collectsPerOrder}`,
      met: collects <= TARGETS.collectsPerOrder,
      note: 'highest window',
    },
    {
      figure: `${label}: broker CPU per waiting login per second`,
      value: step.cpuMsPerLoginSecond,
      unit: 'ms',
      target: `≤ ${TARGETS.cpuMsPerLoginSecond} ms`,
      met: step.cpuMsPerLoginSecond <= TARGETS.cpuMsPerLoginSecond,
      note: `${note}; ${medianOf(step.windows, 'brokerCores').toFixed(2)} cores in all`,
    },
    rssFigure(label, step.windows, step.instances > 1 ? 'peak, the higher instance' : 'peak'),
    memoryFigure(label, step),
    { figure: `${label}: Redis commands per login per second`, value: medianOf(step.windows, 'redisCommandsPerLoginSecond'), unit: '', note },
    {
      figure: `${label}: streams failed / dropped / ended`,
      value: `${refused} / ${sum((stream) => stream.dropped)} / ${sum((stream) => stream.ended)}`,
      unit: '',
      note: `in all windows; ${step.open.open} of ${thousands(step.n)} open after ${step.open.seconds.toFixed(1)} s of opening`,
    },
  ];
}

function pollFigures(step: PollStep | Skipped, note: string): Figure[] {
  const label = `poll, N = ${thousands(step.n)}`;
  if (!isRun(step)) return [{ figure: `${label}: not run`, value: step.skipped, unit: '' }];
  const atTarget = step.n === POLL_TARGET_N;
  const collects = highest(step.windows, 'collectsPerOrder');
  const failed = step.windows.reduce((sum, { waiting }) => sum + failedPolls(waiting.poll), 0);
  const http429 = step.windows.reduce((sum, { waiting }) => sum + waiting.poll.http429, 0);
  return [
    {
      figure: `${label}: poll p50 / p99`,
      value: `${step.p50Ms.toFixed(1)} / ${step.p99Ms.toFixed(1)}`,
      unit: 'ms',
      ...(atTarget ? { target: `p99 < ${TARGETS.pollP99Ms} ms`, met: step.p99Ms < TARGETS.pollP99Ms } : {}),
      note: `${note}; ${Math.round(step.pollsPerSecond)} polls/s; ${failed} failed, ${http429} answered 429${step.held ? '' : '; did not hold'}`,
    },
    { figure: `${label}: collects per order per poll_frequency`, value: collects, unit: '', target: `≤ ${TARGETS.collectsPerOrder}`, met: collects <= TARGETS.collectsPerOrder, note: 'highest window' },
    {
      figure: `${label}: broker CPU per poll`,
      value: step.cpuMsPerPoll,
      unit: 'ms',
      note: `${note}; ${medianOf(step.windows, 'brokerCores').toFixed(2)} cores; ${median(step.windows.map((window) => (window.redisCommandsPerLoginSecond * step.n) / (window.waiting.poll.polls / window.seconds))).toFixed(1)} Redis commands per poll`,
    },
    { figure: `${label}: load generator CPU per poll`, value: step.loadGeneratorCpuMsPerPoll, unit: 'ms', note: `${note}; the pages polling, on the same cores as the broker` },
    rssFigure(label, step.windows, 'peak'),
  ];
}
