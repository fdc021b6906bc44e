import { setTimeout as sleep } from 'node:timers/promises';
import { rssBytes } from '../lib/proc.js';
import { reproduceCommand, type ScenarioContext, type ScenarioResult } from '../lib/report.js';
import { median } from '../lib/stats.js';

/**
 * 5. Start-up: the broker as production starts it (the bundle of bin/main.ts, a configuration file,
 * Redis, Swedish BankID with its certificate files), from spawning the process to the first
 * 200 from discovery; then its RSS after it has been idle for a moment.
 */
export async function startup({ options, bed, log }: ScenarioContext): Promise<ScenarioResult> {
  const runs: Array<{ readyMs: number; readyCpuMs: number; idleRssMb: number }> = [];
  for (let run = 1; run <= options.startup.runs; run += 1) {
    const broker = await bed.startBroker(`startup-${run}`);
    await sleep(options.startup.idleSeconds * 1000);
    runs.push({ readyMs: broker.readyMs, readyCpuMs: broker.readyCpuMs, idleRssMb: rssBytes(broker.process.pid) / 2 ** 20 });
    await broker.stop();
    log(`  run ${run}: first 200 after ${Math.round(broker.readyMs)} ms, ${Math.round(broker.readyCpuMs)} ms of CPU`);
  }
  const readyMs = median(runs.map((run) => run.readyMs));
  const note = `median of ${runs.length} starts`;
  return {
    name: 'startup',
    title: '5. Start-up',
    reproduce: reproduceCommand('startup'),
    figures: [
      { figure: 'time to first 200 from discovery', value: readyMs, unit: 'ms', target: '< 1,000 ms', met: readyMs < 1000, note },
      { figure: 'CPU time used by then (user + system)', value: median(runs.map((run) => run.readyCpuMs)), unit: 'ms', note },
      { figure: `RSS when idle (${options.startup.idleSeconds} s after start)`, value: median(runs.map((run) => run.idleRssMb)), unit: 'MB', note },
    ],
    runs,
  };
}
