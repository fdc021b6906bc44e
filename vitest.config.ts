import { configDefaults, defineConfig } from 'vitest/config';
import { SpreadBrowsersSequencer } from './test/setup/sequencer.js';

const TEST_FILES = ['test/**/*.test.ts', 'providers/**/*.test.ts'];

/**
 * Files whose tests load the machine on purpose (thousands of requests, a lagging event loop, heap
 * growth, a Redis Cluster of six servers resharded under a dozen logins at once): they run after
 * the others, one at a time, so that neither they nor a file beside them wait on a CPU the other
 * holds past a command's time limit.
 */
const ALONE = ['test/integration/fuzz.test.ts', 'test/integration/load-shedding.test.ts', 'test/unit/heap.test.ts', 'test/integration/redis-topologies.test.ts'];

const EVERY_FILE = {
  // Guards against a hang, not a measure of speed: two files share the two cores.
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks',
} as const;

export default defineConfig({
  test: {
    // Redis, chromium and the independent relying parties' Debian packages, installed when missing;
    // then dist/ built when the sources changed: the tests that spawn a broker run the compiled one.
    globalSetup: ['test/setup/prerequisites.ts', 'test/support/build.ts'],
    sequence: { sequencer: SpreadBrowsersSequencer },
    projects: [
      // Integration tests share one Redis, each under its own key prefix, so files may run side by
      // side: two at a time, as most of a file's time is spent waiting (on timers, an eID's
      // simulated delays, a browser), not computing.
      { test: { ...EVERY_FILE, name: 'side by side', include: TEST_FILES, exclude: [...configDefaults.exclude, ...ALONE], maxWorkers: 2, sequence: { groupOrder: 0 } } },
      { test: { ...EVERY_FILE, name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
