import type { Logger } from '../../src/eids/sdk.js';

/** A transaction just begun at an eID (a BankID order, a Freja eID transaction), as recordOrCancel takes it back. */
export interface BegunTransaction {
  /** Stops it at the eID; rejects when the eID refuses or cannot be reached (the eID client's own time limit). */
  cancel(): Promise<void>;
  /** What names it in the log line, for support: never anything that identifies the person. */
  logged: Record<string, string>;
}

/**
 * Writes the record of a transaction just begun at an eID, and when the write fails (the store
 * away, a command past its timeout, any refusal), cancels the transaction at the eID before the
 * failure goes on: the start then answers as the store's failure does (503, try again). Left
 * running, the transaction would wait in the person's app for an approval nobody collects, and
 * a new start for the same person would meet it (BankID's alreadyInProgress) until it expires.
 *
 * A write that timed out may still run later: its record then names a cancelled transaction,
 * which the login's next start cancels again (refused, harmlessly) and replaces.
 */
export async function recordOrCancel<T>(write: () => Promise<T>, begun: BegunTransaction, log: Logger): Promise<T> {
  try {
    return await write();
  } catch (err) {
    await begun.cancel().then(
      () => log.warn(begun.logged, 'a transaction begun at the eID could not be stored: it was cancelled there'),
      (refused: unknown) =>
        log.warn({ ...begun.logged, reason: (refused as Error).message }, 'a transaction begun at the eID could not be stored, nor cancelled there: it runs until the eID ends it'),
    );
    throw err;
  }
}

/**
 * Transactions a status fetch on this instance ended while the eID still ran them (the login's
 * time spent): each is cancelled at the eID only once its ending is stored. Cancelled first, a
 * failed save would leave the store waiting on a transaction the eID has ended, whose next status
 * would end the login as the broker's error or a cancellation rather than as out of time.
 * Held weakly, by the very record the fetch returned: nothing is kept once the record is dropped.
 */
export class GivenUpTransactions<R extends object> {
  readonly #records = new WeakSet<R>();

  /** `ended`, the transaction's record ended as given up on, marked so. */
  giveUp(ended: R): R {
    this.#records.add(ended);
    return ended;
  }

  /** Once `stored` is saved: cancels the transaction at the eID (`cancel`) when `stored` is one given up on here. */
  async cancelIfGivenUp(stored: R, cancel: () => Promise<void>): Promise<void> {
    if (this.#records.has(stored)) await cancel();
  }
}
