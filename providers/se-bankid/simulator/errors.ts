/** A refusal of the RP API, sent as BankID sends it: the status and `{ errorCode, details }`. */
export class RpApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    readonly details: string,
  ) {
    super(`${status} ${errorCode}: ${details}`);
    this.name = 'RpApiError';
  }
}

/** BankID's answer to anything wrong with a well-formed request, which an RP must not retry. */
export function invalidParameters(details: string): RpApiError {
  return new RpApiError(400, 'invalidParameters', details);
}

/** Something the simulated person or a test asked for that the simulator refuses, with why. */
export class SimulatorError extends Error {
  override name = 'SimulatorError';
}
