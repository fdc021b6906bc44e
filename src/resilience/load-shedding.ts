import type { Middleware } from 'koa';
import type { BrokerConfig } from '../config/schema.js';
import type { Metrics } from '../metrics/metrics.js';
import { BusyError } from '../store/store.js';

/** How often the monitor's timer asks to run: the finest lag it can see. */
const TICK_MS = 20;

/**
 * How far behind this process's event loop runs. A timer asks to run every TICK_MS, and how
 * late it ran is the lag. Timers run before sockets are read, so a request always meets the lag
 * of the turn that reads it. The lag counts when the loop kept it up over two turns in a row: a
 * single pause (a long garbage collection, the system not scheduling the process for a moment
 * on a busy machine) sheds nothing, while an overloaded loop lags turn after turn.
 */
export class EventLoopMonitor {
  #dueAt = performance.now() + TICK_MS;
  #lagMs = 0;
  #earlierLagMs = 0;
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.#timer = setInterval(() => this.#tick(), TICK_MS).unref();
  }

  #tick(): void {
    const now = performance.now();
    this.#earlierLagMs = this.#lagMs;
    this.#lagMs = Math.max(0, now - this.#dueAt);
    this.#dueAt = now + TICK_MS;
  }

  /** Milliseconds the event loop has been behind over its last two turns. */
  get lagMs(): number {
    return Math.min(this.#lagMs, this.#earlierLagMs);
  }

  close(): void {
    clearInterval(this.#timer);
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
