import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningServer } from '../lib/bed.js';
import { CpuMeter } from '../lib/proc.js';
import { steer } from '../lib/processes.js';
import { reproduceCommand, type ScenarioContext, type ScenarioResult } from '../lib/report.js';
import { median } from '../lib/stats.js';
import type { GrowOutcome, RoundOutcome, WaitingWindow } from '../load/waiting-pages.js';
import { startWaitingPages } from './scale.js';

/**
 * 7. The JSON poll path's cost per poll: N waiting BankID logins (other device, the order
 * pending at the simulator), then rounds in which every login polls `api/poll?qr=true` once, a
 * bounded number at a time, the rounds at least a second apart (so each poll draws its second's
 * QR code). The broker's CPU time from /proc and Redis's commands over each round, divided by
 * the round's polls: a fixed amount of work, so the figure holds on a busy machine where the
 * waiting-logins scenario's polls per second do not. The orders' collects go on meanwhile (an
 * instance holds a polled order and collects it every poll_frequency, the longest allowed here),
 * at a rate that does not depend on the polls; a round that a busy machine stretches would count
 * more of them. So the broker's CPU over an idle stretch before each round (its collects and
 * timers) is taken off the round's, pro rata of time; the raw figure is kept beside it.
 */
export interface PollRound {
  polls: number;
  seconds: number;
  /** The broker's CPU over the round, less its CPU while idle (collects, timers) for as long. */
  cpuMsPerPoll: number;
  /** The broker's CPU over the round, all of it. */
  rawCpuMsPerPoll: number;
  /** The broker's CPU while no poll came, in cores. */
  idleCores: number;
  redisCommandsPerPoll: number;
  /** The load generator's CPU over the round (its own count, finer than /proc's): what a poll costs the client side, on the same cores. */
  loadGeneratorCpuMsPerPoll: number;
}

/** How long the broker is watched without polls before each round. */
const IDLE_MS = 2_000;

export async function poll({ options, bed, redis, log }: ScenarioContext): Promise<ScenarioResult> {
  const settings = options.poll;
  const broker = await bed.startBroker('poll-broker', {
    bankid: { poll_frequency: settings.pollFrequency, allowed_polling_for_minutes: 30 },
    ttl: { interaction: 1800 },
  });
  const pages = startWaitingPages({ bed, redis }, broker, { ...options.scale, pollFrequency: settings.pollFrequency });
  const control = steer(pages);
  const rounds: PollRound[] = [];
  let answers: WaitingWindow['poll'];
  try {
    await control.ready();
    const grown = await control.send<GrowOutcome>('grow', { total: settings.logins }, 600_000);
    log(`  ${grown.total} logins waiting (${grown.failed} failed to start)`);
    const round = () => control.send<RoundOutcome>('round', { count: settings.logins, concurrency: settings.concurrency }, 120_000);
    // The first polls of each login read its order and collect it: not what a waiting page's poll costs.
    for (let warmup = 0; warmup < settings.warmupRounds; warmup += 1) await round();
    await control.send('mark');
    for (let r = 0; r < settings.rounds; r += 1) rounds.push(await measured(broker, round, redis.commandsProcessed));
    answers = (await control.send<WaitingWindow>('mark')).poll;
  } finally {
    pages.child.disconnect();
    await pages.stop();
    await broker.stop();
  }
  for (const [i, r] of rounds.entries()) {
    log(
      `    round ${i + 1}: ${r.polls} polls in ${r.seconds.toFixed(2)} s, ${r.cpuMsPerPoll.toFixed(3)} ms CPU per poll (${r.rawCpuMsPerPoll.toFixed(3)} ` +
        `with the idle broker's ${r.idleCores.toFixed(2)} cores), ${r.redisCommandsPerPoll.toFixed(2)} Redis commands per poll, ` +
        `load generator ${r.loadGeneratorCpuMsPerPoll.toFixed(3)} ms CPU per poll`,
    );
  }
  const failed = answers.polls - answers.waiting;
  const cpuMsPerPoll = median(rounds.map((r) => r.cpuMsPerPoll));
  const note = `median of ${settings.rounds} rounds of ${settings.logins} polls, ${settings.concurrency} at a time; ${failed} not IN_PROGRESS with a QR code`;
  return {
    name: 'poll',
    title: '7. JSON poll path',
    reproduce: reproduceCommand('poll'),
    figures: [
      { figure: 'broker CPU per poll (api/poll?qr=true)', value: cpuMsPerPoll, unit: 'ms', target: '≤ 0.2 ms', met: cpuMsPerPoll <= 0.2, note },
      { figure: 'broker CPU per poll, its idle CPU included', value: median(rounds.map((r) => r.rawCpuMsPerPoll)), unit: 'ms', note: `the idle broker (collects, timers): ${median(rounds.map((r) => r.idleCores)).toFixed(2)} cores` },
      { figure: 'Redis commands per poll', value: median(rounds.map((r) => r.redisCommandsPerPoll)), unit: '', note: `collects every ${settings.pollFrequency} s included` },
      { figure: 'load generator CPU per poll', value: median(rounds.map((r) => r.loadGeneratorCpuMsPerPoll)), unit: 'ms', note: 'the pages polling, on the same cores as the broker' },
      { figure: 'poll latency p50 / p99', value: `${answers.latency.p50?.toFixed(1)} / ${answers.latency.p99?.toFixed(1)}`, unit: 'ms', note: `${settings.concurrency} in flight` },
    ],
    runs: { rounds, answers },
  };
}

/** One round, with the broker's CPU (less what it spends idle) and Redis's commands over it. */
async function measured(broker: RunningServer, round: () => Promise<RoundOutcome>, commandsProcessed: () => Promise<number>): Promise<PollRound> {
  const cpu = new CpuMeter(broker.process.pid);
  await sleep(IDLE_MS);
  const idle = cpu.read();
  const commandsBefore = await commandsProcessed();
  const { polls, seconds, cpuMs } = await round();
  const { cpuSeconds } = cpu.read();
  const commands = (await commandsProcessed()) - commandsBefore;
  const idleCores = idle.cpuSeconds / idle.seconds;
  return {
    polls,
    seconds,
    cpuMsPerPoll: ((cpuSeconds - idleCores * seconds) * 1000) / polls,
    rawCpuMsPerPoll: (cpuSeconds * 1000) / polls,
    idleCores,
    redisCommandsPerPoll: commands / polls,
    loadGeneratorCpuMsPerPoll: cpuMs / polls,
  };
}
