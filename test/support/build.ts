import { buildIfChanged } from '../../scripts/build.js';

/**
 * Vitest's global set-up: tests that spawn the broker run the compiled one (dist/), as
 * `npm start` does, so dist/ is brought up to date once, before any test and outside every
 * test's time limit. After `npm run build` (as in CI) there is nothing to do.
 */
export default async function setup(): Promise<void> {
  await buildIfChanged();
}
