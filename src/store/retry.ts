import { setTimeout as sleep } from 'node:timers/promises';
import { StoreUnavailableError } from './store.js';

/** The first pause between tries, doubling up to the last: Redis reconnects within 50–150 ms after a drop. */
const PAUSES_MS = { first: 50, last: 2_000 };

/**
 * Runs `operation` (at once: a first try keeps its place among the commands sent in this turn),
 * and again while the store is unavailable — its connection dropped, a failover — until it
 * succeeds or `forMs` has passed; then fails with the last error. For the few writes whose
 * loss costs a person's login though a moment later they would succeed. The pauses hold no
 * process open: a shutdown goes on without them.
 */
export async function whileUnavailable<T>(operation: () => Promise<T>, forMs: number): Promise<T> {
  const until = Date.now() + forMs;
  for (let pause = PAUSES_MS.first; ; pause = Math.min(pause * 2, PAUSES_MS.last)) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof StoreUnavailableError) || Date.now() + pause > until) throw error;
    }
    await sleep(pause, undefined, { ref: false });
  }
}
