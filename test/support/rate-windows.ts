import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Rate-limit windows follow the clock: they start at multiples of `rate_limits.window_seconds`
 * (src/resilience/rate-limit.ts). A test that counts requests up to a refusal must have them all
 * in one window.
 */

/** A window long enough that a test's requests fit in one, given clearOfWindowEnd. */
export const LONG_WINDOW = 3600;

/** Longer than any test takes to count its requests, even on a loaded machine. */
const MARGIN_MS = 8_000;

/** Waits for the next window when this one ends within the margin (rarely, with LONG_WINDOW). */
export async function clearOfWindowEnd(seconds: number = LONG_WINDOW): Promise<void> {
  const leftMs = seconds * 1000 - (Date.now() % (seconds * 1000));
  if (leftMs < MARGIN_MS) await sleep(leftMs + 20);
}

/** Waits for the next window of `seconds` to begin. */
export async function windowStart(seconds: number): Promise<void> {
  await sleep(seconds * 1000 - (Date.now() % (seconds * 1000)) + 20);
}
