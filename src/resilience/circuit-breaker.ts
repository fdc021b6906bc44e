import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  SamplingBreaker,
  circuitBreaker,
  handleType,
  type CircuitBreakerPolicy,
  type IBreaker,
} from 'cockatiel';
import type { BrokerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { CircuitStateName } from '../metrics/metrics.js';
import { outsideRequest } from '../http/request-scope.js';

/** A call refused without being made: the circuit around the eID's upstream is open. */
export class CircuitOpenError extends Error {
  constructor(readonly eid: string) {
    super(`the circuit around ${eid}'s upstream is open`);
    this.name = 'CircuitOpenError';
  }
}

/** Carries an error that counts toward opening the circuit through cockatiel, which then rethrows it. */
class UpstreamFailure extends Error {
  constructor(readonly original: unknown) {
    super('upstream failure');
  }
}

export type CircuitSettings = BrokerConfig['circuit_breaker'];

export interface CircuitEvents {
  /** The circuit changed state; `available` is whether the eID takes logins now. */
  changed(state: CircuitStateName, available: boolean): void;
}

/** How often an open circuit checks whether its time to probe has come (each check is free). */
const OPEN_CHECK_MS = 500;

const stateNames: Record<CircuitState, CircuitStateName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'open',
};

/**
 * When to open: more than `failure_rate` of the calls of the last `window_seconds` failed (once
 * the window holds `minimum_calls`), or `failure_threshold` calls in a row did. The rate is what
 * tells an upstream that is down from one that fails now and then: a share of failures alone
 * never opens the circuit, so it never turns a partial failure into a total one. The run of
 * failures catches an upstream that is down while traffic is too thin to fill the window.
 */
class RateOrRunBreaker implements IBreaker {
  readonly #rate: SamplingBreaker;
  readonly #run: ConsecutiveBreaker;

  constructor(settings: CircuitSettings) {
    this.#rate = new SamplingBreaker({
      threshold: settings.failure_rate,
      duration: settings.window_seconds * 1000,
      minimumRps: settings.minimum_calls / settings.window_seconds,
    });
    this.#run = new ConsecutiveBreaker(settings.failure_threshold);
  }

  get state(): unknown {
    return { rate: this.#rate.state, run: this.#run.state };
  }

  set state(value: unknown) {
    const { rate, run } = value as { rate: unknown; run: number };
    this.#rate.state = rate;
    this.#run.state = run;
  }

  success(state: CircuitState): void {
    this.#rate.success(state);
    this.#run.success();
  }

  failure(state: CircuitState): boolean {
    // Both hear of every failure, so neither's count falls behind.
    const byRate = this.#rate.failure(state);
    const byRun = this.#run.failure();
    return byRate || byRun;
  }
}

/**
 * The circuit breaker around one eID's upstream, on cockatiel. It opens as RateOrRunBreaker
 * says; while open, calls fail at once with CircuitOpenError and the eID is marked unavailable.
 * After `half_open_after_seconds` one probe (or one real call) is let through — the probe is
 * tried every half second, so it goes as soon as it may: success closes the circuit, failure
 * opens it again for a longer time, with jitter, capped at `max_half_open_after_seconds` so a
 * recovered upstream is back within seconds. Each instance keeps its own circuit, from the
 * calls it makes itself.
 */
export class UpstreamCircuit {
  readonly #eid: string;
  readonly #settings: CircuitSettings;
  readonly #log: Logger;
  readonly #policy: CircuitBreakerPolicy;
  #probe: (() => Promise<void>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(eid: string, settings: CircuitSettings, log: Logger, events: CircuitEvents) {
    this.#eid = eid;
    this.#settings = settings;
    this.#log = log;
    this.#policy = circuitBreaker(handleType(UpstreamFailure), {
      breaker: new RateOrRunBreaker(settings),
      halfOpenAfter: new ExponentialBackoff({
        initialDelay: settings.half_open_after_seconds * 1000,
        maxDelay: settings.max_half_open_after_seconds * 1000,
      }),
    });
    this.#policy.onBreak((reason) => {
      const cause = 'error' in reason && reason.error instanceof UpstreamFailure ? describe(reason.error.original) : 'isolated';
      this.#log.warn({ circuit: 'open', reason: cause }, `circuit opened: ${eid} fails fast until its upstream answers again`);
    });
    this.#policy.onReset(() => this.#log.info({ circuit: 'closed' }, `circuit closed: ${eid} takes logins again`));
    this.#policy.onStateChange((state) => {
      const name = stateNames[state];
      events.changed(name, name === 'closed');
      this.#schedule();
    });
    events.changed('closed', true);
  }

  get state(): CircuitStateName {
    return stateNames[this.#policy.state];
  }

  /**
   * Runs a call to the upstream. An error `isFailure` accepts counts toward opening the circuit;
   * either way the caller gets the call's own error back.
   */
  async execute<T>(work: () => Promise<T>, isFailure: (error: unknown) => boolean): Promise<T> {
    try {
      return await this.#policy.execute(async () => {
        try {
          return await work();
        } catch (err) {
          throw isFailure(err) ? new UpstreamFailure(err) : err;
        }
      });
    } catch (err) {
      if (err instanceof UpstreamFailure) throw err.original;
      if (err instanceof BrokenCircuitError) throw new CircuitOpenError(this.#eid);
      throw err;
    }
  }

  /** Starts probing the upstream with `probe`: every probe_interval while closed, and when open to find it back. */
  useProbe(probe: () => Promise<void>): void {
    this.#probe = probe;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed || !this.#probe) return;
    clearTimeout(this.#timer);
    const state = this.#policy.state;
    if (state === CircuitState.HalfOpen) return; // The trial call in flight decides; a state change follows.
    const delay = state === CircuitState.Closed ? this.#settings.probe_interval_seconds * 1000 : Math.min(OPEN_CHECK_MS, this.#settings.half_open_after_seconds * 1000);
    if (delay <= 0) return;
    this.#timer = outsideRequest(() => setTimeout(() => void this.#runProbe(), delay));
    this.#timer.unref();
  }

  async #runProbe(): Promise<void> {
    const probe = this.#probe;
    if (!probe || this.#closed) return;
    try {
      await this.execute(probe, () => true);
    } catch (err) {
      if (!(err instanceof CircuitOpenError)) this.#log.debug({ reason: describe(err) }, 'upstream probe failed');
    }
    // A probe that changed the state has scheduled the next one already; this one repeats the rhythm.
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
