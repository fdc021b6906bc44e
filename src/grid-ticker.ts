import { outsideRequest } from './http/request-scope.js';

/**
 * The period of the process's fine timers: BankID's schedule of QR frames and collects, and
 * load shedding's watch of the event loop. Timers on one grid fall due in the same turn of the
 * event loop and wake the process once between them, where timers of their own would each wake
 * it (BENCHMARKS.md: "Waiting logins' CPU on a quiet machine"). 50 ms rather than 25: a waiting
 * login's work comes in half as many, larger bursts, which cost a quarter less CPU at 1,000
 * waiting logins, for a frame up to 25 ms later within its second (BENCHMARKS.md: "A 50 ms grid").
 */
export const GRID_MS = 50;

/**
 * Calls `tick` at every multiple of `everyMs` on the wall clock, where a schedule's buckets of
 * that width end, and not at whatever phase a setInterval started at: what falls due in a bucket
 * is then handled as the bucket ends, rather than up to a whole `everyMs` later. (With QR frames
 * in 25 ms buckets, that phase was a delay of 0–25 ms, fixed for the life of the process, on
 * every frame.) `tick` is told how late it runs, in ms.
 */
export class GridTicker {
  readonly #everyMs: number;
  readonly #tick: (lateMs: number) => void;
  readonly #unref: boolean;
  #timer: NodeJS.Timeout | undefined;

  /** `unref`: the ticker alone does not keep the process alive. */
  constructor(everyMs: number, tick: (lateMs: number) => void, { unref = false }: { unref?: boolean } = {}) {
    this.#everyMs = everyMs;
    this.#tick = tick;
    this.#unref = unref;
  }

  /** Ticks from the next multiple of `everyMs` on; nothing when it is already ticking. */
  start(): void {
    if (!this.#timer) this.#next();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #next(): void {
    // A millisecond past the multiple: timers keep a clock of their own, which Date.now may trail.
    const now = Date.now();
    const wait = this.#everyMs - (now % this.#everyMs) + 1;
    const dueAt = now + wait;
    // Started by whichever request comes first, the ticks work for every request, and for none of them.
    const timer = outsideRequest(() =>
      setTimeout(() => {
        // Set before the tick, which may stop the ticker.
        this.#next();
        this.#tick(Math.max(0, Date.now() - dueAt));
      }, wait),
    );
    if (this.#unref) timer.unref();
    this.#timer = timer;
  }
}
