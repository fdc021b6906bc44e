import v8 from 'node:v8';

/**
 * How far V8 lets its old generation grow past what the last full collection left live, in
 * percent. V8's own factor goes up to 4× when collections are quick next to the program's
 * allocation, which a broker holding thousands of waiting logins is: with 10,000 open event
 * streams (about 90 MB live) it let the old generation grow to 230 MB before collecting. At 50 %
 * the same broker collects at about 1.5× what is live (BENCHMARKS.md, "Memory per waiting login").
 */
const HEAP_GROWING_PERCENT = 50;

/**
 * Applies the broker's heap growth setting, unless node was started with one of its own (on its
 * command line or in NODE_OPTIONS). V8 reads it each time it sets the next collection's limit,
 * so setting it at start-up takes effect (unlike the sizes of the heap's spaces, which are fixed
 * when the process starts: those are node's command-line flags or NODE_OPTIONS, as the container
 * image sets them).
 */
export function limitHeapGrowth(): void {
  const givenFlags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (givenFlags.some((flag) => /^--heap[-_]growing[-_]percent\b/.test(flag))) return;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
