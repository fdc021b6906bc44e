import { setTimeout as sleep } from 'node:timers/promises';
import { compiled } from '../lib/bed.js';
import { CpuMeter, watchPeakRss } from '../lib/proc.js';
import { startNode, steer } from '../lib/processes.js';
import { reproduceCommand, type Figure, type ScenarioContext, type ScenarioResult } from '../lib/report.js';
import { median } from '../lib/stats.js';
import type { GrowOutcome, PollWindow } from '../load/pollers.js';

/**
 * 3. Waiting BankID logins at scale: N logins on another device, each with its order pending
 * at BankID (the simulator's pickup timeout is long, so none fails) and its page polling
 * `api/poll?qr=true` about once a second from a load generator in its own process. N grows
 * step by step (the logins of a step stay for the next); at each step, after a warm-up, a few
 * measuring windows record poll latency, BankID collects, and the broker's CPU and RSS.
 */
export interface ScaleWindow {
  polls: number;
  pollsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** BankID collects per order per poll_frequency: at most 1 by design. */
  collectsPerOrder: number;
  brokerCores: number;
  brokerPeakRssMb: number;
  /** Redis commands per poll (collects and the bench's own INFO calls included). */
  redisCommandsPerPoll: number;
  /** What shared the machine meanwhile, in cores. */
  loadGeneratorCores: number;
  simulatorCores: number;
  redisCores?: number;
  failedPolls: number;
  window: PollWindow;
}

export interface ScaleStep {
  n: number;
  grow: GrowOutcome;
  /** INFO used_memory after the logins started, less before any, per login. */
  redisBytesPerOrder: number;
  /** MEMORY USAGE of the broker's keys, per login: the same, counted key by key. */
  redisKeyBytesPerOrder: number;
  redisKeysPerOrder: number;
  windows: ScaleWindow[];
  p50Ms: number;
  p99Ms: number;
  cpuMsPerPoll: number;
  held: boolean;
  endedLogins: number;
  skipped?: string;
}

export interface ScaleRuns {
  steps: ScaleStep[];
}

const TARGET_N = 5000;

/**
 * A step holds when the broker still does the job: at most 1 % of polls fail, no login ends,
 * and 99 % of polls are answered within a second, so every person's QR code still changes
 * about every second or two. Larger steps are run only after one that held.
 */
const HOLDS_BELOW_P99_MS = 1000;

export async function scale({ options, bed, redis, log }: ScenarioContext): Promise<ScenarioResult> {
  const settings = options.scale;
  const broker = await bed.startBroker('scale-broker', {
    // Logins must outlast the whole scenario: the broker's own limits are set long.
    bankid: { poll_frequency: settings.pollFrequency, allowed_polling_for_minutes: 30 },
    ttl: { interaction: 1800 },
  });
  const pollers = startNode('pollers', compiled('bench/load/pollers.js'), {
    args: [
      JSON.stringify({
        target: broker.target,
        createConcurrency: settings.createConcurrency,
        connections: 256,
        spreadMs: settings.pollFrequency * 1000,
      }),
    ],
    ipc: true,
  });
  const control = steer(pollers);
  const runs: ScaleRuns = { steps: [] };
  try {
    await control.ready();
    const memoryBefore = await redis.usedMemory();
    let previousHeld = true;
    for (const n of settings.sizes) {
      if (n > settings.mustHoldAbove && !previousHeld) {
        log(`  N = ${n}: not run, the step before did not hold`);
        runs.steps.push({ n, skipped: 'the step before did not hold' } as ScaleStep);
        continue;
      }
      const grow = await control.send<GrowOutcome>('grow', { total: n }, 600_000);
      log(`  N = ${n}: ${grow.total} logins waiting (${grow.failed} failed to start, ${grow.seconds.toFixed(1)} s to start them)`);
      const memoryAfter = await redis.usedMemory();
      const keys = await redis.prefixMemory(broker.prefix);

      await control.send('poll');
      await sleep(settings.warmupSeconds * 1000);
      await control.send('mark');
      const windows: ScaleWindow[] = [];
      for (let w = 0; w < settings.windows; w += 1) {
        const cpu = new CpuMeter(broker.process.pid);
        const neighbours = {
          loadGenerator: new CpuMeter(pollers.pid),
          simulator: new CpuMeter(bed.simulator.pid),
          ...(redis.pid ? { redis: new CpuMeter(redis.pid) } : {}),
        };
        const rss = watchPeakRss(broker.process.pid);
        const collectsBefore = (await bed.simulatorStats()).collect;
        const commandsBefore = await redis.commandsProcessed();
        await sleep(settings.windowSeconds * 1000);
        const window = await control.send<PollWindow>('mark');
        const collects = (await bed.simulatorStats()).collect - collectsBefore;
        const commands = (await redis.commandsProcessed()) - commandsBefore;
        const { cores, seconds } = cpu.read();
        const failedPolls =
          window.networkErrors +
          Object.values(window.httpErrors).reduce((sum, count) => sum + count, 0) +
          Object.values(window.otherStatus).reduce((sum, count) => sum + count, 0);
        windows.push({
          polls: window.polls,
          pollsPerSecond: window.polls / seconds,
          p50Ms: window.latency.p50,
          p99Ms: window.latency.p99,
          collectsPerOrder: collects / ((grow.total * seconds) / settings.pollFrequency),
          brokerCores: cores,
          brokerPeakRssMb: rss.stop() / 2 ** 20,
          redisCommandsPerPoll: commands / window.polls,
          loadGeneratorCores: neighbours.loadGenerator.read().cores,
          simulatorCores: neighbours.simulator.read().cores,
          ...(neighbours.redis ? { redisCores: neighbours.redis.read().cores } : {}),
          failedPolls,
          window,
        });
        const last = windows.at(-1)!;
        log(
          `    window ${w + 1}: ${Math.round(last.pollsPerSecond)} polls/s, p50 ${last.p50Ms.toFixed(1)} ms, p99 ${last.p99Ms.toFixed(1)} ms, ` +
            `collects/order/${settings.pollFrequency}s ${last.collectsPerOrder.toFixed(2)}, broker CPU ${last.brokerCores.toFixed(2)} cores ` +
            `(load generator ${last.loadGeneratorCores.toFixed(2)}, simulator ${last.simulatorCores.toFixed(2)}, ` +
            `Redis ${last.redisCores?.toFixed(2) ?? '?'}), RSS ${Math.round(last.brokerPeakRssMb)} MB, 429 ${window.http429}, failed ${failedPolls}`,
        );
      }
      const { ended } = await control.send<{ ended: number }>('pause', {}, 120_000);
      const polls = windows.reduce((sum, window) => sum + window.polls, 0);
      const failed = windows.reduce((sum, window) => sum + window.failedPolls, 0);
      const p99Ms = median(windows.map((window) => window.p99Ms));
      const held = ended === 0 && failed <= polls * 0.01 && grow.failed <= n * 0.01 && p99Ms < HOLDS_BELOW_P99_MS;
      previousHeld = held;
      runs.steps.push({
        n,
        grow,
        redisBytesPerOrder: (memoryAfter - memoryBefore) / grow.total,
        redisKeyBytesPerOrder: keys.bytes / grow.total,
        redisKeysPerOrder: keys.keys / grow.total,
        windows,
        p50Ms: median(windows.map((window) => window.p50Ms)),
        p99Ms,
        cpuMsPerPoll: median(windows.map((window) => (window.brokerCores * 1000) / window.pollsPerSecond)),
        held,
        endedLogins: ended,
      });
    }
  } finally {
    pollers.child.disconnect();
    await pollers.stop();
    await broker.stop();
  }

  return {
    name: 'scale',
    title: '3. Waiting BankID logins',
    reproduce: reproduceCommand('scale'),
    figures: runs.steps.flatMap((step) => stepFigures(step, settings.windows, settings.windowSeconds)),
    runs,
  };
}

function stepFigures(step: ScaleStep, windows: number, windowSeconds: number): Figure[] {
  const n = `N = ${step.n.toLocaleString('en-US')}`;
  if (step.skipped) return [{ figure: `${n}: not run`, value: step.skipped, unit: '' }];
  const atTarget = step.n === TARGET_N;
  const of = (field: keyof ScaleWindow) => median(step.windows.map((window) => Number(window[field])));
  const note = `median of ${windows} windows of ${windowSeconds} s`;
  const rss = Math.max(...step.windows.map((window) => window.brokerPeakRssMb));
  const collects = Math.max(...step.windows.map((window) => window.collectsPerOrder));
  return [
    {
      figure: `${n}: poll p50 / p99`,
      value: `${step.p50Ms.toFixed(1)} / ${step.p99Ms.toFixed(1)}`,
      unit: 'ms',
      ...(atTarget ? { target: 'p99 < 100 ms', met: step.p99Ms < 100 } : {}),
      note: `${note}; ${Math.round(of('pollsPerSecond'))} polls/s${step.held ? '' : '; did not hold'}`,
    },
    { figure: `${n}: collects per order per poll_frequency`, value: collects, unit: '', target: '≤ 1', met: collects <= 1, note: 'highest window' },
    { figure: `${n}: broker CPU`, value: of('brokerCores'), unit: 'cores', note },
    {
      figure: `${n}: broker CPU per poll`,
      value: step.cpuMsPerPoll,
      unit: 'ms',
      note: `one core serves about ${Math.round(1000 / step.cpuMsPerPoll).toLocaleString('en-US')} polls/s at this cost; ${of('redisCommandsPerPoll').toFixed(1)} Redis commands per poll`,
    },
    { figure: `${n}: broker RSS`, value: rss, unit: 'MB', ...(atTarget ? { target: '< 300 MB', met: rss < 300 } : {}), note: 'peak' },
    {
      figure: `${n}: Redis memory per pending order`,
      value: step.redisBytesPerOrder,
      unit: 'bytes',
      note: `used_memory delta; ${Math.round(step.redisKeyBytesPerOrder)} bytes in ${step.redisKeysPerOrder.toFixed(1)} keys by MEMORY USAGE`,
    },
  ];
}
