import type { EidFailure } from '../../src/eids/sdk.js';

/**
 * Who an upstream's `error` code says the login ended by, which decides everything the broker
 * does with it besides the client's error:
 * - person: the person cancelled, declined, or cannot use the eID: the picker says so (a cancel
 *   as a cancel), and the log has an info line;
 * - outage: the eID is failing: its circuit breaker counts it as a failed call, the picker says
 *   the eID is not available right now, and the log has a warning;
 * - broker: the eID refused the broker's request, which no retry mends (the broker's
 *   registration or configuration at the eID, a parameter it does not take): the log has an
 *   error, for the operator to look at.
 * A code that only a request without interaction (prompt=none) may get — login_required and its
 * kin — is the broker's too: its requests always let the eID ask the person, unless an operator's
 * `extra_params` says otherwise. It was once taken for the person's cancel.
 */
export type UpstreamErrorCause = 'person' | 'outage' | 'broker';

/** One row of an upstream's error table: what the client gets, and who the login ended by. */
export interface UpstreamErrorRow {
  failure: EidFailure;
  cause: UpstreamErrorCause;
}

export const personEnded = (failure: EidFailure): UpstreamErrorRow => ({ failure, cause: 'person' });
export const personCancelled = (description: string): UpstreamErrorRow => personEnded({ error: 'access_denied', description, ending: 'cancelled' });
export const eidOutage = (description: string): UpstreamErrorRow => ({ failure: { error: 'server_error', description }, cause: 'outage' });
export const brokerRefused = (description: string): UpstreamErrorRow => ({ failure: { error: 'server_error', description }, cause: 'broker' });

const withoutInteraction = brokerRefused('The eID would have had to ask the person, which the broker\'s request did not let it do.');

/**
 * The OAuth and OpenID Connect codes every upstream shares. An eID's own table adds to it or
 * replaces its rows (UpstreamEidDefinition.errors).
 */
export const UPSTREAM_ERRORS: Readonly<Record<string, UpstreamErrorRow>> = {
  access_denied: personCancelled('The person cancelled or was refused at the eID.'),
  login_required: withoutInteraction,
  consent_required: withoutInteraction,
  interaction_required: withoutInteraction,
  account_selection_required: withoutInteraction,
  temporarily_unavailable: eidOutage('The eID is temporarily unavailable.'),
  server_error: eidOutage('The eID failed.'),
};

/** Any code not in the tables (invalid_request, unauthorized_client, invalid_scope, one the broker never heard of): the eID refused the request. */
const OTHER_ERROR = brokerRefused('The eID refused the request.');

/** The row of `code` in `table`, else the row of any other code. */
export const upstreamErrorRow = (table: Readonly<Record<string, UpstreamErrorRow>>, code: string): UpstreamErrorRow =>
  Object.hasOwn(table, code) ? table[code]! : OTHER_ERROR;
