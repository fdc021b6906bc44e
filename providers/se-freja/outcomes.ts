import type { FailedEnding } from '../shared/endings.js';

/** Freja's final statuses other than APPROVED. An unknown one is a server_error. */
const statusEndings: Record<string, FailedEnding> = {
  CANCELED: { status: 'CANCEL', messageCode: 'declined', error: 'access_denied', description: 'The person declined in the Freja eID app.', ending: 'cancelled', retry: true },
  RP_CANCELED: { status: 'CANCEL', messageCode: 'cancelled', error: 'access_denied', description: 'The Freja eID transaction was cancelled.', ending: 'cancelled', retry: true },
  EXPIRED: { status: 'ERROR', messageCode: 'expired', error: 'access_denied', description: 'The person did not finish in Freja eID in time.', ending: 'expired', retry: true },
  REJECTED: { status: 'ERROR', messageCode: 'rejected', error: 'access_denied', description: 'Freja eID stopped the login for security reasons.', retry: true },
};
const unknownStatus: FailedEnding = { status: 'ERROR', messageCode: 'failed', error: 'server_error', description: 'Freja eID ended the transaction with a status the broker does not know.' };

const unavailable: FailedEnding = { status: 'ERROR', messageCode: 'unavailable', error: 'server_error', description: 'Freja eID is temporarily unavailable.', retry: true };

/**
 * Errors of Freja's API (its numeric codes, or the client's words for a call without one) →
 * how the login ends. Codes that are the broker's own fault (1000–1011, 2002, …) fall to the default.
 */
const apiErrors: Record<string, FailedEnding> = {
  unreachable: unavailable,
  timeout: unavailable,
  circuitOpen: unavailable,
  badAnswer: { status: 'ERROR', messageCode: 'failed', error: 'server_error', description: 'Freja eID answered with something other than its answer.', retry: true },
  '2000': { status: 'ERROR', messageCode: 'rejected', error: 'access_denied', description: 'Freja eID stopped the login for security reasons.', retry: true },
  '1100': { status: 'ERROR', messageCode: 'failed', error: 'server_error', description: 'Freja eID no longer knows the transaction.', retry: true },
};
const unknownApiError: FailedEnding = { status: 'ERROR', messageCode: 'failed', error: 'server_error', description: 'Freja eID refused a request from the broker.' };

/** Outcomes the broker decides itself. */
export const brokerEndings = {
  gaveUp: statusEndings.EXPIRED!,
  refusedResult: { status: 'ERROR', messageCode: 'failed', error: 'server_error', description: "Freja eID's signed result could not be verified." },
  notSwedish: {
    status: 'ERROR',
    messageCode: 'not_swedish',
    error: 'insufficient_scope',
    description: "The person's Freja eID has no valid Swedish personal number.",
  },
} satisfies Record<string, FailedEnding>;

export function statusEnding(status: string): FailedEnding {
  return statusEndings[status] ?? unknownStatus;
}

/** A 5xx without one of Freja's codes is Freja being away, like no answer at all. */
export function apiErrorEnding(errorCode: string, status: number): FailedEnding {
  return apiErrors[errorCode] ?? (status >= 500 ? unavailable : unknownApiError);
}

/** Freja's statuses while the person has not finished, and what they read meanwhile. */
export function pendingMessage(status: string | undefined, device: 'this' | 'other'): string {
  if (status === 'DELIVERED_TO_MOBILE') return 'approve';
  return device === 'other' ? 'scan' : 'open_app';
}
