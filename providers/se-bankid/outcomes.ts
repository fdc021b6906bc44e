import type { FailedEnding } from '../shared/endings.js';

/** What decides which message fits: the device the person uses BankID on, and whether the browser is a phone's. */
export interface MessageContext {
  device: 'this' | 'other' | 'phone';
  mobile: boolean;
}

type MessageCode = string | ((context: MessageContext) => string);

/** A status that ends the login, its message still to be chosen for the device. */
type Ending = Omit<FailedEnding, 'messageCode'> & { messageCode: MessageCode };

/**
 * Pending hint codes → the recommended message. BankID adds codes without notice: an unknown
 * pending code shows RFA21 ("in progress").
 */
const pending: Record<string, MessageCode> = {
  outstandingTransaction: ({ device }) => (device === 'other' ? 'RFA1' : 'RFA13'),
  noClient: 'RFA1',
  started: ({ mobile }) => (mobile ? 'RFA15B' : 'RFA15A'),
  userSign: 'RFA9',
  userMrtd: 'RFA23',
};
const unknownPending: MessageCode = 'RFA21';

/** Failed hint codes → how the login ends. An unknown one is a server_error with RFA22. */
const failed: Record<string, Ending> = {
  userCancel: { status: 'CANCEL', messageCode: 'RFA6', error: 'access_denied', description: 'The person cancelled in the BankID app.', ending: 'cancelled', retry: true },
  cancelled: {
    status: 'ERROR',
    messageCode: 'RFA3',
    error: 'access_denied',
    description: 'The BankID order was cancelled, for instance by a newer one for the same person.',
    ending: 'cancelled',
    retry: true,
  },
  expiredTransaction: { status: 'ERROR', messageCode: 'RFA8', error: 'access_denied', description: 'The person did not finish in BankID in time.', ending: 'expired', retry: true },
  certificateErr: { status: 'ERROR', messageCode: 'RFA16', error: 'eid_doesnt_exist', description: "The person's BankID is blocked, revoked or too old." },
  startFailed: {
    status: 'ERROR',
    messageCode: ({ device }) => (device === 'other' ? 'RFA17B' : 'RFA17A'),
    error: 'access_denied',
    description: 'The BankID app was not started in time.',
    ending: 'expired',
    retry: true,
  },
  notSupportedByUserApp: { status: 'ERROR', messageCode: 'RFA22', error: 'insufficient_scope', description: "The person's BankID app cannot do what was required and needs an update." },
  // The phone API: asked whether they are in a call with the client's organisation, the person said no.
  userDeclinedCall: {
    status: 'CANCEL',
    messageCode: 'RFA6',
    error: 'access_denied',
    description: 'The person answered in the BankID app that they are not in a call with you.',
    ending: 'cancelled',
  },
  transactionRiskBlocked: { status: 'ERROR', messageCode: 'RFA22', error: 'access_denied', description: 'BankID blocked the login as too risky.' },
};
const unknownFailed: Ending = { status: 'ERROR', messageCode: 'RFA22', error: 'server_error', description: 'BankID ended the order with a code the broker does not know.' };

/**
 * Errors of the RP API → how the login ends. Errors that are the broker's own fault
 * (invalidParameters, unauthorized, …) are not shown as BankID errors: they fall to the default.
 */
const apiErrors: Record<string, Ending> = {
  alreadyInProgress: { status: 'ERROR', messageCode: 'RFA4', error: 'access_denied', description: 'A BankID login or signing for this person was already in progress.', retry: true },
  requestTimeout: { status: 'ERROR', messageCode: 'RFA5', error: 'server_error', description: 'BankID did not receive the request in time.', retry: true },
  internalError: { status: 'ERROR', messageCode: 'RFA5', error: 'server_error', description: 'BankID had an internal error.', retry: true },
  maintenance: { status: 'ERROR', messageCode: 'RFA5', error: 'server_error', description: 'BankID is down for maintenance.', retry: true },
  unreachable: { status: 'ERROR', messageCode: 'RFA5', error: 'server_error', description: 'BankID could not be reached.', retry: true },
  circuitOpen: { status: 'ERROR', messageCode: 'RFA5', error: 'server_error', description: 'BankID failed repeatedly and is paused for a moment.', retry: true },
  malformedAnswer: { status: 'ERROR', messageCode: 'RFA5', error: 'server_error', description: 'BankID answered with something that is not an answer of its API.', retry: true },
};
const unknownApiError: Ending = { status: 'ERROR', messageCode: 'RFA22', error: 'server_error', description: 'BankID refused a request from the broker.' };

/** Outcomes the broker decides itself on a completed or abandoned order. */
export const brokerEndings = {
  gaveUp: failed.startFailed!,
  mrtdMissing: { status: 'ERROR', messageCode: 'RFA22', error: 'insufficient_scope', description: 'The person did not verify an ID document, which was required.' },
  wrongPerson: { status: 'ERROR', messageCode: 'RFA22', error: 'insufficient_scope', description: 'Another person than the one required completed the order.' },
  highRisk: { status: 'ERROR', messageCode: 'RFA22', error: 'access_denied', description: 'BankID assessed the login as high risk.' },
  badLoginHint: { status: 'ERROR', messageCode: 'RFA22', error: 'invalid_request', description: 'login_hint personal_number is not a valid Swedish personal number.' },
} satisfies Record<string, Ending>;

const resolve = (code: MessageCode, context: MessageContext) => (typeof code === 'function' ? code(context) : code);

export function pendingMessage(hintCode: string | undefined, context: MessageContext): string {
  return resolve(pending[hintCode ?? ''] ?? unknownPending, context);
}

function resolveEnding(ending: Ending, context: MessageContext): FailedEnding {
  return { ...ending, messageCode: resolve(ending.messageCode, context) };
}

export function failedEnding(hintCode: string | undefined, context: MessageContext): FailedEnding {
  return resolveEnding(failed[hintCode ?? ''] ?? unknownFailed, context);
}

export function apiErrorEnding(errorCode: string, context: MessageContext): FailedEnding {
  return resolveEnding(apiErrors[errorCode] ?? unknownApiError, context);
}

export function brokerEnding(name: keyof typeof brokerEndings, context: MessageContext): FailedEnding {
  return resolveEnding(brokerEndings[name], context);
}
