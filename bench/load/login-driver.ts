import { fullLogin, type Target } from '../lib/flows.js';
import { keepAliveAgent } from '../lib/http.js';
import { summarize } from '../lib/stats.js';

/**
 * A load generator in its own process: `concurrency` people log in one after the other
 * (each login a new browser: authorize → eID → code → token → userinfo) for `seconds`.
 * Only logins finished within the time count. Prints one JSON line.
 *
 * Input (argv[2], JSON): { target, concurrency, seconds }.
 */
interface Input {
  target: Target;
  concurrency: number;
  seconds: number;
}

export interface LoginOutcome {
  flows: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  errorSamples: string[];
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const dispatcher = keepAliveAgent(input.concurrency);
const started = performance.now();
const deadline = started + input.seconds * 1000;
const latencies: number[] = [];
const errorSamples: string[] = [];
let errors = 0;

async function person(): Promise<void> {
  while (performance.now() < deadline) {
    const begin = performance.now();
    try {
      await fullLogin(dispatcher, input.target);
      const end = performance.now();
      if (end <= deadline) latencies.push(end - begin);
    } catch (error) {
      errors += 1;
      if (errorSamples.length < 5) errorSamples.push((error as Error).message);
    }
  }
}

await Promise.all(Array.from({ length: input.concurrency }, person));
await dispatcher.close();
const summary = summarize(latencies);
const outcome: LoginOutcome = {
  flows: summary.count,
  perSecond: summary.count / input.seconds,
  p50Ms: summary.p50,
  p99Ms: summary.p99,
  errors,
  errorSamples,
};
console.log(JSON.stringify(outcome));
