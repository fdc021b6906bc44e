import v8 from 'node:v8';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

/**
 * How far V8 lets its old generation grow past what the last full collection left live, in
 * percent, once the heap is large. V8's own factor goes up to 4× when collections are quick next
 * to the program's allocation, which a broker holding thousands of waiting logins is: with 10,000
 * open event streams (about 90 MB live) it let the old generation grow to 230 MB before
 * collecting. At 50 % the same broker collects at about 1.5× what is live (BENCHMARKS.md,
 * "Memory per waiting login").
 */
const HEAP_GROWING_PERCENT = 50;

/**
 * The room the old generation may always grow past what is live, however small that is. 50 % of
 * a small heap is little room: a broker serving tokens keeps about 26 MB live and allocates about
 * 30 KB a grant that lives long enough to be promoted, so 50 % made a full collection every 400
 * grants or so, several a second (BENCHMARKS.md, "The refresh grant: promises cut and put back").
 * Up to 32 MB, the growth is this room; past 64 MB live, 50 % is more than it.
 */
const MIN_HEAP_ROOM_BYTES = 32 * 1024 * 1024;

/**
 * At most V8's own largest factor (4×). The setting a full collection applies was chosen after the
 * one before it, from what that left live: a heap that grew between the two gets a little more
 * room than the minimum for one collection, never more than this.
 */
const MAX_HEAP_GROWING_PERCENT = 300;

/** The growth, in percent, that gives a heap with this much live at least the minimum room. */
export const growingPercentFor = (liveBytes: number): number =>
  Math.min(MAX_HEAP_GROWING_PERCENT, Math.max(HEAP_GROWING_PERCENT, Math.ceil((100 * MIN_HEAP_ROOM_BYTES) / Math.max(liveBytes, 1))));

/** Node's entry for a garbage collection names its kind in `detail` (since Node 16). */
const isFullCollection = (entry: PerformanceEntry) =>
  (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;

/**
 * Applies the broker's heap growth, unless node was started with a setting of its own (on its
 * command line or in NODE_OPTIONS). V8 reads the setting each time it sets the next collection's
 * limit, so it is set at start-up (50 %: the heap is still small then, and V8 collects it first at
 * its own initial limit) and again after each full collection, from what that collection left live
 * (read when node reports the collection, a little after it: a close upper bound).
 * The sizes of the heap's spaces, by contrast, are fixed when the process starts: those are
 * node's command-line flags or NODE_OPTIONS, as the container image sets them.
 */
export function limitHeapGrowth(): void {
  const givenFlags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (givenFlags.some((flag) => /^--heap[-_]growing[-_]percent\b/.test(flag))) return;
  let percent = HEAP_GROWING_PERCENT;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  new PerformanceObserver((list) => {
    if (!list.getEntries().some(isFullCollection)) return;
    const wanted = growingPercentFor(v8.getHeapStatistics().used_heap_size);
    if (wanted === percent) return;
    percent = wanted;
    v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  }).observe({ entryTypes: ['gc'] });
}
