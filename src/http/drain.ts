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
   * Starts the drain: aborts `signal`, closes the listeners of `servers` (those started; idle
   * keep-alive connections go with them), and resolves once every request in flight is answered
   * or `limitMs` has passed; then it cuts what is left. Resolves with the number cut.
   */
  async drain(servers: readonly Server[], limitMs: number): Promise<number> {
    this.#controller.abort();
    if (servers.length === 0) return 0;
    const closed = Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    if (this.#inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.#allDone = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, limitMs))),
      ]);
      clearTimeout(timer);
    }
    const cut = this.#inFlight;
    for (const server of servers) server.closeAllConnections();
    await closed;
    return cut;
  }
}
