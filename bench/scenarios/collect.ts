import { compiled } from '../lib/bed.js';
import { runNodeForJson } from '../lib/processes.js';
import { reproduceCommand, type ScenarioContext, type ScenarioResult } from '../lib/report.js';
import type { CollectOutcome } from '../load/collect-timer.js';

/**
 * 6. One collect of a waiting BankID order (lease, mutual-TLS call to the simulator, metrics,
 * circuit breaker), timed in a process of its own: the part of a waiting login's CPU that
 * BankID's poll_frequency sets, apart from the frames and the streams.
 */
export async function collect({ options, redis, bed }: ScenarioContext): Promise<ScenarioResult> {
  const input = { apiUrl: bed.simulator.apiUrl, ...bed.bankIdTls, redisUrl: redis.url, keyPrefix: redis.prefix('collect'), ...options.collect };
  const outcome = await runNodeForJson<CollectOutcome>('collect-timer', compiled('bench/load/collect-timer.js'), input, 300_000);
  const note = `median of ${options.collect.rounds} rounds of ${options.collect.orders.toLocaleString('en-US')} collects, at most 64 at once`;
  // A collect every poll_frequency (2 s) must leave room for the frames in 0.05 ms a second.
  const perLoginSecond = outcome.cpuMsPerCollect / 2;
  return {
    name: 'collect',
    title: '6. BankID collect',
    reproduce: reproduceCommand('collect'),
    figures: [
      { figure: 'CPU per collect (lease, call, metrics)', value: outcome.cpuMsPerCollect, unit: 'ms', target: '< 0.07 ms', met: outcome.cpuMsPerCollect < 0.07, note },
      { figure: 'the same per waiting login per second (a collect every 2 s)', value: perLoginSecond, unit: 'ms' },
      { figure: 'Redis commands per collect', value: outcome.redisCommandsPerCollect, unit: '' },
    ],
    runs: outcome,
  };
}
