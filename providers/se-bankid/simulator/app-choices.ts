/**
 * The endings a person can pick on the simulated app page, besides identifying and cancelling:
 * BankID's documented hint codes of a failed order, and the errors its RP API answers with.
 */

/** Failed hint codes of RP API v6; what each means to the person trying it is in locales/ (bankid-simulator.hint_<code>). */
export const failedHintCodes: readonly string[] = [
  'expiredTransaction',
  'certificateErr',
  'userCancel',
  'cancelled',
  'startFailed',
  'userDeclinedCall',
  'notSupportedByUserApp',
  'transactionRiskBlocked',
];

/** Error codes of RP API v6, with the HTTP status BankID sends each with. */
export const apiErrorStatus: Record<string, number> = {
  alreadyInProgress: 400,
  invalidParameters: 400,
  unauthorized: 401,
  notFound: 404,
  methodNotAllowed: 405,
  requestTimeout: 408,
  unsupportedMediaType: 415,
  internalError: 500,
  maintenance: 503,
};

