/**
 * Calls `tick` at every multiple of `everyMs` on the wall clock, where a schedule's buckets of
 * that width end, and not at whatever phase a setInterval started at: what falls due in a bucket
 * is then handled as the bucket ends, rather than up to a whole `everyMs` later. (With QR frames
 * in 25 ms buckets, that phase was a delay of 0–25 ms, fixed for the life of the process, on
 * every frame.)
 */
export class GridTicker {
  readonly #everyMs: number;
  readonly #tick: () => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(everyMs: number, tick: () => void) {
    this.#everyMs = everyMs;
    this.#tick = tick;
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
    const wait = this.#everyMs - (Date.now() % this.#everyMs) + 1;
    this.#timer = setTimeout(() => {
      // Set before the tick, which may stop the ticker.
      this.#next();
      this.#tick();
    }, wait);
  }
}
