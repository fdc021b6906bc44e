import { compiled } from '../lib/bed.js';
import { runNodeForJson } from '../lib/processes.js';
import { reproduceCommand, type Figure, type ScenarioContext, type ScenarioResult } from '../lib/report.js';
import type { QrOutcome } from '../load/qr-timer.js';
import type { PollStep, ScaleRuns } from './scale.js';

/** 4. QR generation: the time per QR payload plus SVG, measured in a process of its own. */
export async function qr({ options }: ScenarioContext): Promise<ScenarioResult> {
  const outcome = await runNodeForJson<QrOutcome>('qr-timer', compiled('bench/load/qr-timer.js'), options.qr, 120_000);
  const note = `median of ${options.qr.rounds} rounds of ${options.qr.iterations}`;
  return {
    name: 'qr',
    title: '4. QR generation',
    reproduce: reproduceCommand('qr'),
    figures: [
      { figure: 'QR payload + SVG', value: outcome.payloadAndSvgMs, unit: 'ms', target: '< 0.2 ms', met: outcome.payloadAndSvgMs < 0.2, note },
      { figure: 'QR payload alone (HMAC)', value: outcome.payloadMs, unit: 'ms', note },
    ],
    runs: outcome,
  };
}

/**
 * The share of a poll's time that its QR code takes: the QR time over the broker's CPU time
 * per poll in the smallest poll step of the waiting-logins scenario (where the broker is not
 * saturated, so CPU per poll is what one poll costs).
 */
export function qrShareOfPoll(qrResult: ScenarioResult, scaleRuns: ScaleRuns): Figure | undefined {
  const step = scaleRuns.polls.find((candidate): candidate is PollStep => 'windows' in candidate);
  if (!step) return undefined;
  const qrMs = (qrResult.runs as QrOutcome).payloadAndSvgMs;
  const share = qrMs / step.cpuMsPerPoll;
  return {
    figure: `share of a poll's broker CPU time (N = ${step.n.toLocaleString('en-US')})`,
    value: Math.round(share * 1000) / 10,
    unit: '%',
    note: `${qrMs.toFixed(3)} ms of ${step.cpuMsPerPoll.toFixed(3)} ms CPU per poll; p50 poll ${step.p50Ms.toFixed(1)} ms`,
  };
}
