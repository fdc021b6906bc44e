import type { RunningServer } from './bed.js';
import type { Figure } from './report.js';
import { CpuMeter } from './proc.js';
import type { BenchRedis } from './redis.js';
import { median } from './stats.js';

/**
 * Broker against bare oidc-provider, side by side in one run: after a warm-up of each, the
 * same load runs against one and then the other, round after round, the order swapped every
 * round. A round's two runs are minutes apart at most, so whatever else the machine is doing
 * falls on both alike: the ratio is taken within each round, then the median over rounds.
 */
export interface Measured<T> {
  outcome: T;
  /** The server's CPU use during the run, in cores (1 = one core busy). */
  serverCores: number;
  /** Redis commands run meanwhile (the bench's own INFO calls included: two a run). */
  redisCommands: number;
}

export interface SideBySide<T> {
  broker: Array<Measured<T>>;
  bare: Array<Measured<T>>;
}

export async function sideBySide<T>(
  redis: BenchRedis,
  servers: { broker: RunningServer; bare: RunningServer },
  settings: { rounds: number; seconds: number; warmupSeconds: number },
  run: (server: RunningServer, seconds: number) => Promise<T>,
  log: (message: string) => void,
  describe: (outcome: T) => string,
): Promise<SideBySide<T>> {
  const kinds = ['broker', 'bare'] as const;
  for (const kind of kinds) await run(servers[kind], settings.warmupSeconds);
  const measured: SideBySide<T> = { broker: [], bare: [] };
  for (let round = 0; round < settings.rounds; round += 1) {
    for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
      const commandsBefore = await redis.commandsProcessed();
      const cpu = new CpuMeter(servers[kind].process.pid);
      const outcome = await run(servers[kind], settings.seconds);
      const serverCores = cpu.read().cores;
      const redisCommands = (await redis.commandsProcessed()) - commandsBefore;
      measured[kind].push({ outcome, serverCores, redisCommands });
      log(`  round ${round + 1} ${kind}: ${describe(outcome)}, server CPU ${serverCores.toFixed(2)} cores`);
    }
  }
  return measured;
}

/**
 * The figures every side-by-side scenario reports: the rate of each (median of the rounds),
 * their ratio (median of the rounds' ratios) against its target, and the server CPU time per
 * unit of work, which a busy machine disturbs less than the rate.
 */
export function comparisonFigures<T>(
  measured: SideBySide<T>,
  rate: (outcome: T) => number,
  /** How many units (grants, logins) a run did. */
  units: (outcome: T) => number,
  labels: { what: string; unit: string; per: string; broker: string; bare: string; note: string; target: number },
): Figure[] {
  const rates = (kind: keyof SideBySide<T>) => measured[kind].map((run) => rate(run.outcome));
  const cpuMs = (kind: keyof SideBySide<T>) => median(measured[kind].map((run) => (run.serverCores * 1000) / rate(run.outcome)));
  const ratio = median(rates('broker').map((broker, round) => broker / rates('bare')[round]!));
  const commands = (kind: keyof SideBySide<T>) => median(measured[kind].map((run) => run.redisCommands / units(run.outcome)));
  return [
    { figure: `${labels.broker}: ${labels.what}`, value: median(rates('broker')), unit: labels.unit, note: labels.note },
    { figure: `${labels.bare}: ${labels.what}`, value: median(rates('bare')), unit: labels.unit, note: labels.note },
    {
      figure: 'ratio broker/bare',
      value: ratio,
      unit: '×',
      target: `≥ ${labels.target}×`,
      met: ratio >= labels.target,
      note: 'median of the rounds\' ratios',
    },
    {
      figure: `server CPU per ${labels.per}: broker / bare`,
      value: `${cpuMs('broker').toFixed(2)} / ${cpuMs('bare').toFixed(2)}`,
      unit: 'ms',
      note: `bare/broker ${(cpuMs('bare') / cpuMs('broker')).toFixed(2)}×`,
    },
    {
      figure: `Redis commands per ${labels.per}: broker / bare`,
      value: `${commands('broker').toFixed(1)} / ${commands('bare').toFixed(1)}`,
      unit: '',
    },
  ];
}
