import type { FinalRecord } from '../shared/endings.js';

/** One login's Freja transaction, as every broker instance sees it. */
export interface TransactionRecord {
  device: 'this' | 'other';
  acr: string;
  authRef: string;
  /** When the transaction was started (ms): the login gives up after allowed_seconds. */
  startedAt: number;
  /** This device: the nonce in the return link, checked when the app sends the person back. */
  returnNonce?: string;
  /** Freja's status while the person has not finished (STARTED, DELIVERED_TO_MOBILE). */
  status?: string;
  /** Set once the login has ended; every later poll answers the same. */
  final?: FinalRecord;
}

/** What tells two versions of a login's transaction apart, for those who show it. */
export function transactionVersion(record: TransactionRecord | undefined): string {
  return record ? `${record.authRef} ${record.status ?? ''} ${record.final?.status ?? ''}` : '';
}

