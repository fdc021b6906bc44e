import type { Middleware } from 'koa';
import type { BrokerConfig } from '../config/schema.js';
import { GRID_MS, GridTicker } from '../grid-ticker.js';
import type { Metrics } from '../metrics/metrics.js';
import { BusyError } from '../store/store.js';

/**
 * How far behind this process's event loop runs. A timer asks to run at every multiple of
 * GRID_MS (50 ms) on the wall clock, and how late it ran is the lag: on the grid of BankID's
 * tick, so that while logins wait the two wake the process once, not each on its own. Timers run before sockets are read, so a request always meets the lag
 * of the turn that reads it. The lag counts when the loop kept it up over two turns in a row: a
 * single pause (a long garbage collection, the system not scheduling the process for a moment
 * on a busy machine) sheds nothing, while an overloaded loop lags turn after turn.
 */
export class EventLoopMonitor {
  #lagMs = 0;
  #earlierLagMs = 0;
  readonly #ticker = new GridTicker(GRID_MS, (lateMs) => this.#tick(lateMs), { unref: true });

  constructor() {
    this.#ticker.start();
  }

  #tick(lateMs: number): void {
    this.#earlierLagMs = this.#lagMs;
    this.#lagMs = lateMs;
  }

  /** Milliseconds the event loop has been behind over its last two turns. */
  get lagMs(): number {
    return Math.min(this.#lagMs, this.#earlierLagMs);
  }

  close(): void {
    this.#ticker.stop();
  }
}

/** Whether load shedding refuses requests now. */
export function overloaded(monitor: EventLoopMonitor, settings: BrokerConfig['load_shedding']): boolean {
  return settings.enabled && monitor.lagMs > settings.max_event_loop_delay_ms;
}

/**
 * Load shedding: while the event loop lags past `max_event_loop_delay_ms`, every request that
 * reaches this step is answered at once with 503, Retry-After and a `busy` reason, before it
 * costs any work. The requests already in progress then finish sooner, and a load balancer or
 * client retries elsewhere or later. Health and metrics sit before this step: they still answer.
 */
export function loadShedding(monitor: EventLoopMonitor, settings: BrokerConfig['load_shedding'], metrics: Metrics): Middleware {
  return (_ctx, next) => {
    if (overloaded(monitor, settings)) {
      metrics.requestsShed.inc();
      throw new BusyError();
    }
    return next();
  };
}
