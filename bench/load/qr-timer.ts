import { randomUUID } from 'node:crypto';
import { qrSvg } from '../../providers/shared/qr-svg.js';
import { qrPayload } from '../../providers/se-bankid/qr.js';
import { median } from '../lib/stats.js';

/**
 * Times the broker's own QR code code (providers/se-bankid/qr.ts) in a process of its own:
 * the payload alone, and the payload plus its SVG, as each poll with ?qr=true makes them.
 * Each round draws `iterations` codes of one order, a second apart, as an order's polls do.
 * Prints one JSON line: the median over the rounds of the mean time per code.
 *
 * Input (argv[2], JSON): { rounds, iterations }.
 */
interface Input {
  rounds: number;
  iterations: number;
}

export interface QrOutcome {
  payloadMs: number;
  payloadAndSvgMs: number;
  svgBytes: number;
  rounds: Array<{ payloadMs: number; payloadAndSvgMs: number }>;
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const order = { qrStartToken: randomUUID(), qrStartSecret: randomUUID() };

function timeRound(withSvg: boolean): number {
  const started = performance.now();
  for (let second = 0; second < input.iterations; second += 1) {
    const payload = qrPayload(order.qrStartToken, order.qrStartSecret, second);
    if (withSvg) qrSvg(payload);
  }
  return (performance.now() - started) / input.iterations;
}

// Warm up the JIT before measuring.
timeRound(true);
const rounds: QrOutcome['rounds'] = [];
for (let round = 0; round < input.rounds; round += 1) {
  rounds.push({ payloadMs: timeRound(false), payloadAndSvgMs: timeRound(true) });
}
const outcome: QrOutcome = {
  payloadMs: median(rounds.map((round) => round.payloadMs)),
  payloadAndSvgMs: median(rounds.map((round) => round.payloadAndSvgMs)),
  svgBytes: qrSvg(qrPayload(order.qrStartToken, order.qrStartSecret, 30)).length,
  rounds,
};
console.log(JSON.stringify(outcome));
