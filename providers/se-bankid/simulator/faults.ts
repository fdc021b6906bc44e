import { FaultQueue as SharedFaultQueue } from '../../shared/fault-queue.js';
import { rawAnswerOf, type RawAnswer } from '../../shared/raw-answer.js';
import { SimulatorError } from './errors.js';
import { isJsonObject } from './requests.js';

export const rpEndpoints = ['auth', 'sign', 'payment', 'phone/auth', 'phone/sign', 'collect', 'cancel'] as const;
export type RpEndpoint = (typeof rpEndpoints)[number];

/**
 * An error answer BankID might give instead of doing the work, a slow answer that then does it,
 * or an answer that is not BankID's at all (a proxy's page, a broken body: `answer`, as sent).
 */
export type Fault =
  | { status: number; errorCode: string; details?: string }
  | { delayMs: number }
  | { answer: RawAnswer };

const FAULT_SHAPE = 'fault must be { status: 400–599, errorCode, details? }, { delayMs } or { answer: { status: 200–599, body, contentType? } }';

/** Faults waiting for the next requests to each endpoint, oldest first. */
export class FaultQueue extends SharedFaultQueue<RpEndpoint, Fault> {
  constructor() {
    super({ target: checkEndpoint, fault: checkFault, refuse: (message) => new SimulatorError(message) });
  }
}

function checkEndpoint(endpoint: unknown): RpEndpoint {
  if (!rpEndpoints.includes(endpoint as RpEndpoint)) {
    throw new SimulatorError(`endpoint must be one of ${rpEndpoints.join(', ')}`);
  }
  return endpoint as RpEndpoint;
}

function checkFault(fault: unknown): Fault {
  if (!isJsonObject(fault)) throw new SimulatorError(FAULT_SHAPE);
  if (isWholeNumber(fault.delayMs)) return { delayMs: fault.delayMs };
  if (fault.answer !== undefined) {
    const answer = rawAnswerOf(fault.answer);
    if (!answer) throw new SimulatorError(FAULT_SHAPE);
    return { answer };
  }
  const { status, errorCode, details } = fault;
  const isErrorAnswer =
    isWholeNumber(status) &&
    status >= 400 &&
    status <= 599 &&
    typeof errorCode === 'string' &&
    (details === undefined || typeof details === 'string');
  if (!isErrorAnswer) throw new SimulatorError(FAULT_SHAPE);
  return { status, errorCode, details };
}

function isWholeNumber(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
