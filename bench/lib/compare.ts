import type { RunningServer } from './bed.js';
import type { Figure } from './report.js';
import { CpuMeter } from './proc.js';
import type { BenchRedis } from './redis.js';
import { median } from './stats.js';

/**
 * Broker against bare oidc-provider (and other references), side by side in one run: after a
 * warm-up of each, the same load runs against one and then the next, round after round, the
 * order reversed every round. A round's runs are minutes apart at most, so whatever else the
 * machine is doing falls on all alike: a ratio is taken within each round, then the median over rounds.
 */
export interface Measured<T> {
  outcome: T;
  /** The server's CPU use during the run, in cores (1 = one core busy). */
  serverCores: number;
  /** Redis commands run meanwhile (the bench's own INFO calls included: two a run). */
  redisCommands: number;
}

/** The runs of each server, by name. */
export type SideBySide<T, K extends string = 'broker' | 'bare'> = Record<K, Array<Measured<T>>>;

export async function sideBySide<T, K extends string>(
  redis: BenchRedis,
  servers: Record<K, RunningServer>,
  settings: { rounds: number; seconds: number; warmupSeconds: number },
  run: (server: RunningServer, seconds: number) => Promise<T>,
  log: (message: string) => void,
  describe: (outcome: T) => string,
): Promise<SideBySide<T, K>> {
  const kinds = Object.keys(servers) as K[];
  for (const kind of kinds) await run(servers[kind], settings.warmupSeconds);
  const measured = Object.fromEntries(kinds.map((kind) => [kind, []])) as unknown as SideBySide<T, K>;
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

interface Labels {
  what: string;
  unit: string;
  per: string;
  broker: string;
  bare: string;
  note: string;
  target: number;
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
  labels: Labels,
): Figure[] {
  return [
    { figure: `${labels.broker}: ${labels.what}`, value: median(measured.broker.map((run) => rate(run.outcome))), unit: labels.unit, note: labels.note },
    ...referenceFigures(measured, rate, units, { ...labels, short: 'bare' }),
  ];
}

/**
 * A reference's figures beside the broker's (comparisonFigures without the broker's rate): the
 * reference's rate, the broker's ratio against it, and CPU and Redis commands per unit of each.
 * `short` names the reference in the ratio's and the per-unit figures' names.
 */
export function referenceFigures<T>(
  measured: SideBySide<T>,
  rate: (outcome: T) => number,
  units: (outcome: T) => number,
  labels: Labels & { short: string },
): Figure[] {
  const rates = (kind: keyof SideBySide<T>) => measured[kind].map((run) => rate(run.outcome));
  const cpuMs = (kind: keyof SideBySide<T>) => median(measured[kind].map((run) => (run.serverCores * 1000) / rate(run.outcome)));
  const ratio = median(rates('broker').map((broker, round) => broker / rates('bare')[round]!));
  const commands = (kind: keyof SideBySide<T>) => median(measured[kind].map((run) => run.redisCommands / units(run.outcome)));
  return [
    { figure: `${labels.bare}: ${labels.what}`, value: median(rates('bare')), unit: labels.unit, note: labels.note },
    {
      figure: `ratio broker/${labels.short}`,
      value: ratio,
      unit: '×',
      target: `≥ ${labels.target}×`,
      met: ratio >= labels.target,
      note: 'median of the rounds\' ratios',
    },
    {
      figure: `server CPU per ${labels.per}: broker / ${labels.short}`,
      value: `${cpuMs('broker').toFixed(2)} / ${cpuMs('bare').toFixed(2)}`,
      unit: 'ms',
      note: `${labels.short}/broker ${(cpuMs('bare') / cpuMs('broker')).toFixed(2)}×`,
    },
    {
      figure: `Redis commands per ${labels.per}: broker / ${labels.short}`,
      value: `${commands('broker').toFixed(1)} / ${commands('bare').toFixed(1)}`,
      unit: '',
    },
  ];
}
