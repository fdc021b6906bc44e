import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * The HTTP side of a graceful shutdown. It counts the requests in flight; `drain` then stops
 * accepting connections, lets the requests in flight finish — up to a time limit, after which
 * the connections left are cut — and `signal` is aborted the moment the drain starts, so that
 * long-lived responses (event streams) end then instead of holding the drain to its limit.
 */
export class Drain {
  readonly #controller = new AbortController();
  #inFlight = 0;
  #allDone: (() => void) | undefined;
  /** Requests in flight that may hold a drain past its limit: how long from the drain's start. */
  readonly #holds = new Map<ServerResponse, number>();

  /** Aborted when the drain starts. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get draining(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Counts the requests `server` serves. */
  watch(server: Server): void {
    server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
      this.#inFlight += 1;
      // A connection that served a request during the drain is not kept for another one.
      if (this.draining) response.setHeader('Connection', 'close');
      response.once('close', () => {
        this.#inFlight -= 1;
        if (this.#inFlight === 0) this.#allDone?.();
      });
    });
  }

  /**
   * Lets the request answered by `response` hold a graceful drain for `forMs` from the drain's
   * start, though the drain's own limit is shorter: work that cannot be done again once cut (an
   * upstream's code being redeemed). Its connection is cut only after that.
   */
  hold(response: ServerResponse, forMs: number): void {
    if (response.writableEnded) return;
    this.#holds.set(response, forMs);
    response.once('close', () => this.#holds.delete(response));
  }

  /**
   * Starts the drain: aborts `signal`, closes the listeners of `servers` (those started; idle
   * keep-alive connections go with them), and resolves once every request in flight is answered
   * or `limitMs` has passed — or, with `holds`, the longest hold of a request still in flight,
   * when that is longer; then it cuts what is left. Resolves with the number cut.
   */
  async drain(servers: readonly Server[], limitMs: number, holds = false): Promise<number> {
    this.#controller.abort();
    if (servers.length === 0) return 0;
    const startedAt = Date.now();
    const closed = Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    const allDone = new Promise<void>((resolve) => (this.#allDone = resolve));
    // A hold that ends is taken out with its request, so the time left is asked again after each wait.
    const leftMs = () => startedAt + Math.max(limitMs, ...(holds ? this.#holds.values() : [])) - Date.now();
    while (this.#inFlight > 0 && leftMs() > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([allDone, new Promise<void>((resolve) => (timer = setTimeout(resolve, leftMs())))]);
      clearTimeout(timer);
    }
    const cut = this.#inFlight;
    for (const server of servers) server.closeAllConnections();
    await closed;
    return cut;
  }
}
