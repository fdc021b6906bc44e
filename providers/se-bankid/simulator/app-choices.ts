/**
 * The endings a person can pick on the simulated app page, besides identifying and cancelling:
 * BankID's documented hint codes of a failed order, and the errors its RP API answers with.
 */

/** Failed hint codes of RP API v6, each with what it means to the person trying it. */
export const failedHintCodes: Record<string, string> = {
  expiredTransaction: 'the order expired',
  certificateErr: 'the BankID is blocked, revoked or not valid',
  userCancel: 'the person cancelled in the app',
  cancelled: 'a newer order for the same person replaced it',
  startFailed: 'the app was not started in time',
  userDeclinedCall: 'the person said they are not in a call with the service',
  notSupportedByUserApp: 'the app needs an update for what was asked',
  transactionRiskBlocked: 'BankID judged the order too risky',
};

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

