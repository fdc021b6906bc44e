/** How a simulator checks what its control API was sent: each throws its own refusal. */
export interface FaultRules<Target extends string, Fault> {
  /** The endpoint or method a fault is for. */
  target(value: unknown): Target;
  fault(value: unknown): Fault;
  /** Refuses a `times` that is not a whole number of at least 1. */
  refuse(message: string): Error;
}

/**
 * Faults a simulator answers the next requests with instead of doing the work (an error answer,
 * a slow answer), per endpoint or method, oldest first, each for a number of requests.
 */
export class FaultQueue<Target extends string, Fault> {
  readonly #queued = new Map<Target, { fault: Fault; remaining: number }[]>();

  constructor(private readonly rules: FaultRules<Target, Fault>) {}

  /** Checks its arguments itself, since the control API passes on whatever JSON it got. */
  inject(target: unknown, fault: unknown, times: unknown = 1): void {
    const checked = this.rules.target(target);
    const queued = { fault: this.rules.fault(fault), remaining: this.#times(times) };
    this.#queued.set(checked, [...(this.#queued.get(checked) ?? []), queued]);
  }

  /** The fault for this request, counting it as served. */
  take(target: Target): Fault | undefined {
    const queue = this.#queued.get(target);
    const next = queue?.[0];
    if (!queue || !next) return undefined;
    next.remaining -= 1;
    if (next.remaining === 0) queue.shift();
    return next.fault;
  }

  #times(times: unknown): number {
    if (!Number.isSafeInteger(times) || (times as number) < 1) throw this.rules.refuse('times must be a whole number of at least 1');
    return times as number;
  }
}
