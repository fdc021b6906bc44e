import { SimulatorError } from './errors.js';
import { isJsonObject } from './requests.js';

export const rpEndpoints = ['auth', 'sign', 'payment', 'phone/auth', 'phone/sign', 'collect', 'cancel'] as const;
export type RpEndpoint = (typeof rpEndpoints)[number];

/** An error answer BankID might give instead of doing the work, or a slow answer that then does it. */
export type Fault = { status: number; errorCode: string; details?: string } | { delayMs: number };

const FAULT_SHAPE = 'fault must be { status: 400–599, errorCode, details? } or { delayMs }';

interface QueuedFault {
  fault: Fault;
  remaining: number;
}

/** Faults waiting for the next requests to each endpoint, oldest first. */
export class FaultQueue {
  readonly #queued = new Map<RpEndpoint, QueuedFault[]>();

  /** Checks its arguments itself, since the control surface passes on whatever JSON it got. */
  inject(endpoint: unknown, fault: unknown, times: unknown = 1): void {
    const target = checkEndpoint(endpoint);
    const queued = { fault: checkFault(fault), remaining: checkTimes(times) };
    this.#queued.set(target, [...(this.#queued.get(target) ?? []), queued]);
  }

  /** The fault for this request, counting it as served. */
  take(endpoint: RpEndpoint): Fault | undefined {
    const queue = this.#queued.get(endpoint);
    const next = queue?.[0];
    if (!queue || !next) return undefined;
    next.remaining -= 1;
    if (next.remaining === 0) queue.shift();
    return next.fault;
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

function checkTimes(times: unknown): number {
  if (!isWholeNumber(times) || times < 1) throw new SimulatorError('times must be a whole number of at least 1');
  return times;
}

function isWholeNumber(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
