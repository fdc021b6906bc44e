import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Bed } from './bed.js';
import type { BenchOptions, ScenarioName } from './options.js';
import type { BenchRedis } from './redis.js';
import { round } from './stats.js';

/** One figure of the table: a measured value (a median of several runs) beside its target. */
export interface Figure {
  figure: string;
  value: number | string;
  unit: string;
  /** The goal from issue 8, in words, e.g. "≥ 0.9× bare"; absent when there is none. */
  target?: string;
  met?: boolean;
  /** How it was measured: runs, context. */
  note?: string;
}

export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  /** The command that reproduces these figures. */
  reproduce: string;
  figures: Figure[];
  /** Every run's raw numbers, for results.json. */
  runs: unknown;
  /** CPU that processes outside the bench used meanwhile, in cores: how noisy the machine was. */
  otherLoadCores?: number;
}

/** What a scenario gets to work with. */
export interface ScenarioContext {
  options: BenchOptions;
  redis: BenchRedis;
  bed: Bed;
  log(message: string): void;
}

export interface Environment {
  date: string;
  node: string;
  cores: number;
  cpu: string;
  redis: string;
  redisPrivate: boolean;
  quick: boolean;
}

export const reproduceCommand = (name: ScenarioName) => `BENCH_ONLY=${name} npm run bench`;

function formatValue(figure: Figure): string {
  const value = typeof figure.value === 'number' ? round(figure.value).toLocaleString('en-US') : figure.value;
  return figure.unit ? `${value} ${figure.unit}` : String(value);
}

/** The results as a Markdown table, one row per figure, the core count on every row. */
export function table(results: readonly ScenarioResult[], environment: Environment): string {
  const rows = [
    '| Scenario | Figure | Measured | Target | Met | Cores |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.flatMap((result) =>
      result.figures.map((figure) => {
        const met = figure.met === undefined ? '' : figure.met ? 'yes' : '**no**';
        const note = figure.note ? ` (${figure.note})` : '';
        return `| ${result.title} | ${figure.figure} | ${formatValue(figure)}${note} | ${figure.target ?? '—'} | ${met} | ${environment.cores} |`;
      }),
    ),
  ];
  return rows.join('\n');
}

/**
 * Writes results.json: this run's scenarios replace their earlier results, the others stay
 * as they were, each with the environment it was measured in.
 */
export function writeResults(path: string, results: readonly ScenarioResult[], environment: Environment): void {
  const earlier = existsSync(path)
    ? (JSON.parse(readFileSync(path, 'utf8')) as { scenarios?: Record<string, unknown> }).scenarios ?? {}
    : {};
  const scenarios = { ...earlier };
  for (const result of results) scenarios[result.name] = { environment, ...result };
  writeFileSync(path, `${JSON.stringify({ updated: environment.date, scenarios }, null, 2)}\n`);
}
