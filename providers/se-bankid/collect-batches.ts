/**
 * Collects due, held back until they fill a batch. A tick's collects share their turn of the
 * event loop, one Redis command for their leases, one write per BankID connection and the reads
 * of the answers; and work done in one burst costs far less CPU per item than the same work in
 * small bursts between idle moments, when the processor's caches and predictors have gone cold
 * (BENCHMARKS.md: the same work cost 2.5× the CPU in bursts every 25 ms as back to back). With
 * few orders a tick holds a handful of collects; held back until `size` are due, or the
 * oldest has waited `maxWaitMs`, they go in a few large batches instead. A batch's orders are
 * then due again together, one poll_frequency later, so after the first round they come due as
 * whole batches and wait no more: the pace of collects stays as it was. With many orders every
 * tick fills a batch, and nothing waits at all.
 */
export class CollectBatches<T> {
  readonly #size: number;
  readonly #maxWaitMs: number;
  /** In the order they came due: the first has waited longest. */
  readonly #queued = new Map<T, number>();

  constructor(size: number, maxWaitMs: number) {
    this.#size = size;
    this.#maxWaitMs = maxWaitMs;
  }

  /** Queues an item that fell due at `now`; one already queued keeps its place. */
  add(item: T, now: number): void {
    if (!this.#queued.has(item)) this.#queued.set(item, now);
  }

  delete(item: T): void {
    this.#queued.delete(item);
  }

  /**
   * Up to `room` items to start now, the longest waiting first, taken off the queue: none
   * while fewer than a batch are queued and the oldest is younger than `maxWaitMs`.
   */
  take(now: number, room: number): T[] {
    const oldest = this.#queued.values().next();
    if (oldest.done || room <= 0) return [];
    if (this.#queued.size < this.#size && now - oldest.value < this.#maxWaitMs) return [];
    const taken: T[] = [];
    for (const item of this.#queued.keys()) {
      if (taken.length >= room) break;
      taken.push(item);
    }
    for (const item of taken) this.#queued.delete(item);
    return taken;
  }
}
