import type { EidFailure, EidOutcome, PollStatus } from '../../src/eids/sdk.js';

/** A way a login at an app-based eID ends without an identity, and the OIDC error the client gets. */
export interface FailedEnding {
  status: Extract<PollStatus['status'], 'ERROR' | 'CANCEL'>;
  messageCode: string;
  error: EidFailure['error'];
  description: string;
  /** The person cancelled, or the eID's transaction ran out of time: audited so, not as a failure. */
  ending?: EidFailure['ending'];
  /** Trying again in the same login may well work: the page offers it. */
  retry?: true;
}

/** What a login record keeps once the login has ended; every later poll answers the same. */
export type FinalRecord = Pick<PollStatus, 'status' | 'hintCode' | 'messageCode' | 'retry'> & { outcome: EidOutcome };

/**
 * The final record of a failed ending. `transactionId` names the eID's transaction it ended (a
 * BankID orderRef, a Freja authRef) for the audit event; an ending a new try may mend offers one
 * (`retry`) only when there was a transaction to retry.
 */
export function failedFinal(ending: FailedEnding, { transactionId, hintCode }: { transactionId?: string | undefined; hintCode?: string | undefined } = {}): FinalRecord {
  const failure: EidFailure = {
    error: ending.error,
    description: ending.description,
    ...(ending.ending ? { ending: ending.ending } : {}),
    ...(transactionId ? { transactionId } : {}),
  };
  return {
    status: ending.status,
    ...(hintCode ? { hintCode } : {}),
    messageCode: ending.messageCode,
    ...(ending.retry && transactionId ? { retry: true } : {}),
    outcome: { failure },
  };
}

/** A final record as the person's page shows it: with the message in their language, when it has one. */
export function presentFinal(final: FinalRecord, message: (messageCode: string) => string): PollStatus {
  return { ...final, ...(final.messageCode ? { message: message(final.messageCode) } : {}) };
}
