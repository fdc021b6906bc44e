import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'providers/**/*.test.ts'],
    // Redis, chromium and the independent relying parties' Debian packages, installed when missing;
    // then dist/ built when the sources changed: the tests that spawn a broker run the compiled one.
    globalSetup: ['test/setup/prerequisites.ts', 'test/support/build.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration tests share one Redis; each uses its own key prefix, so files may run in parallel.
    pool: 'forks',
  },
});
