import type { Middleware } from 'koa';
import type { BrokerConfig } from '../config/schema.js';
import type { Metrics } from '../metrics/metrics.js';
import { BusyError } from '../store/store.js';

/** How often the monitor's timer asks to run: the finest lag it can see. */
const TICK_MS = 20;

/**
 * How far behind this process's event loop runs. A timer asks to run every TICK_MS, and how
 * late it ran is the lag. While the next run is overdue, the time it is overdue counts as well,
 * so the first request read after one long task already sees the lag that task caused.
 */
export class EventLoopMonitor {
  #dueAt = performance.now() + TICK_MS;
  #lastLagMs = 0;
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.#timer = setInterval(() => this.#tick(), TICK_MS).unref();
  }

  #tick(): void {
    const now = performance.now();
    this.#lastLagMs = Math.max(0, now - this.#dueAt);
    this.#dueAt = now + TICK_MS;
  }

  /** Milliseconds the event loop is behind now. */
  get lagMs(): number {
    return Math.max(this.#lastLagMs, performance.now() - this.#dueAt);
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

/**
 * Load shedding: while the event loop lags past `max_event_loop_delay_ms`, every request that
 * reaches this step is answered at once with 503, Retry-After and a `busy` reason, before it
 * costs any work. The requests already in progress then finish sooner, and a load balancer or
 * client retries elsewhere or later. Health and metrics sit before this step: they still answer.
 */
export function loadShedding(monitor: EventLoopMonitor, settings: BrokerConfig['load_shedding'], metrics: Metrics): Middleware {
  return async (_ctx, next) => {
    if (settings.enabled && monitor.lagMs > settings.max_event_loop_delay_ms) {
      metrics.requestsShed.inc();
      throw new BusyError();
    }
    await next();
  };
}
