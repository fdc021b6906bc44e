import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import { StoreUnavailableError, type ConsumeResult, type Store } from './store.js';

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

/** How long the release of a consume whose answer was lost is tried: well past a Try again a second later. */
const RELEASE_TRIED_FOR_MS = 60_000;

/**
 * Consumes the record at `key`, as Store.consume. A consume whose answer was lost with the store
 * (a timeout, a dropped connection: it may have run) is released, so that the same request tried
 * again finds the record as it was, rather than used by no one. The release names this consume's
 * claim, so it never undoes another's; its first try goes on the consume's connection, after it.
 */
export async function consumeOnce(store: Store, key: string, at: number, log: Logger): Promise<ConsumeResult> {
  const claim = randomUUID();
  try {
    return await store.consume(key, at, claim);
  } catch (error) {
    if (error instanceof StoreUnavailableError) releaseWhileUnavailable(store, key, claim, log);
    throw error;
  }
}

/** Releases a consume's claim (see Store.release), trying again while the store is away; not awaited. */
export function releaseWhileUnavailable(store: Store, key: string, claim: string, log: Logger): void {
  whileUnavailable(() => store.release(key, claim), RELEASE_TRIED_FOR_MS).catch((error: unknown) => {
    log.warn({ reason: error instanceof Error ? error.message : String(error) }, 'a consumed record could not be released');
  });
}
