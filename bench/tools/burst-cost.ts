import { createHmac } from 'node:crypto';

/**
 * Not a scenario: what the same work costs in CPU when a process does it in small bursts with
 * the processor idle between them, against back to back. One burst is 40 HMACs of a QR payload
 * and 40 small JSON texts (about a tick's share of frames at N = 1,000); it runs back to back
 * for a few seconds, then once every `gap` ms, and the CPU per burst of each is printed
 * (`process.cpuUsage`, after a warm-up, so the code is compiled in both). On an idle machine
 * the bursts with gaps cost more, whatever their order, because the caches and branch
 * predictors a burst needs have gone cold while the process slept; on a busy machine less
 * of that shows, since its back-to-back bursts share the cores too.
 *
 *   npx tsc -b bench/tsconfig.build.json && node node_modules/.cache/nordic-eid-bench/bench/tools/burst-cost.js [gap ms, default 25] [seconds, default 8]
 */

const gapMs = Number(process.argv[2] ?? 25);
const seconds = Number(process.argv[3] ?? 8);

function burst(): number {
  let sum = 0;
  for (let i = 0; i < 40; i += 1) {
    sum += createHmac('sha256', 'qrStartSecret').update(`payload ${i}`).digest()[0]!;
    sum += JSON.stringify({ event: 'qr', data: `bankid.token.${i}`, seconds: i }).length;
  }
  return sum;
}

/** CPU µs per burst over `runs` bursts started by `schedule`. */
async function cpuPerBurst(schedule: (run: () => void) => Promise<number>): Promise<number> {
  const before = process.cpuUsage();
  const bursts = await schedule(() => burst());
  const used = process.cpuUsage(before);
  return (used.user + used.system) / bursts;
}

const backToBack = (run: () => void): Promise<number> => {
  const end = Date.now() + seconds * 1000;
  let bursts = 0;
  while (Date.now() < end) {
    run();
    bursts += 1;
  }
  return Promise.resolve(bursts);
};

const withGaps = (run: () => void): Promise<number> =>
  new Promise((resolve) => {
    const end = Date.now() + seconds * 1000;
    let bursts = 0;
    const timer = setInterval(() => {
      run();
      bursts += 1;
      if (Date.now() >= end) {
        clearInterval(timer);
        resolve(bursts);
      }
    }, gapMs);
  });

for (let i = 0; i < 20_000; i += 1) burst();
const dense = await cpuPerBurst(backToBack);
const sparse = await cpuPerBurst(withGaps);
console.log(`CPU per burst: back to back ${dense.toFixed(1)} µs, every ${gapMs} ms ${sparse.toFixed(1)} µs (${(sparse / dense).toFixed(2)}×)`);
