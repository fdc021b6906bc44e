import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';

/** What the browser waits before reconnecting a dropped stream (the SSE `retry` field). */
const RECONNECT_AFTER_MS = 2_000;

/**
 * Bytes a stream may have queued for a reader that does not keep up. Past it the connection is
 * dropped: the browser's EventSource reconnects and gets the current state, so nothing is lost,
 * and a slow reader never holds more than this in memory.
 */
const MAX_QUEUED_BYTES = 64 * 1024;

/**
 * One Server-Sent Events response, written straight to the socket: Koa steps aside once the
 * stream opens (ctx.respond = false), which is what keeps a waiting browser down to a few KB.
 * Nothing is written before `open`, so a request refused before it gets an ordinary error.
 */
export class EventStream {
  readonly #res: ServerResponse;
  /** Until the stream opens: what is set on ctx before then still goes out with the headers. */
  #ctx: Context | undefined;
  #state: 'new' | 'open' | 'ended' = 'new';
  readonly #onClose: Array<() => void> = [];

  constructor(ctx: Context) {
    this.#ctx = ctx;
    this.#res = ctx.res;
    ctx.res.once('close', () => this.#closed());
  }

  /** Sends the headers; the response stays open until `end` or the browser goes away. */
  open(): void {
    if (this.#state !== 'new') return;
    this.#state = 'open';
    const ctx = this.#ctx!;
    // From here on the stream needs the response only. Koa keeps ctx until the response ends
    // (to report errors), so what the request's middleware left on ctx.state (the interaction,
    // the client) is dropped too: an open stream then costs its socket, request and response.
    this.#ctx = undefined;
    ctx.state = {};
    ctx.respond = false;
    ctx.req.socket.setNoDelay(true);
    // Headers already set on ctx (traceId, CSP, no-store) go out with these.
    this.#res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store, no-transform',
      // nginx buffers proxied responses unless told not to.
      'X-Accel-Buffering': 'no',
    });
    this.#res.write(`retry: ${RECONNECT_AFTER_MS}\n\n`);
  }

  /** Sends one event, queued behind earlier ones when the reader is slow. */
  send(event: string, data: string): void {
    if (this.#state === 'new') this.open();
    if (this.#state === 'open') this.#write(`event: ${event}\ndata: ${data}\n\n`);
  }

  /**
   * Sends one event that a later one makes good (an animated code's frame) only when it can go
   * out at once: a reader that is behind skips it rather than queueing it.
   */
  offer(event: string, data: string, id: number): void {
    if (this.writable) this.#write(`id: ${id}\nevent: ${event}\ndata: ${data}\n\n`);
  }

  /** A comment line: keeps proxies from closing an idle connection. */
  heartbeat(): void {
    if (this.writable) this.#write(': \n\n');
  }

  /**
   * Whether an event sent now goes out at once rather than into a queue: nothing is waiting for
   * the socket. (Not writableNeedDrain, which lets 16 KB queue first: with thousands of streams
   * on a busy machine, that was up to 16 KB of stale frames held per stream.)
   */
  get writable(): boolean {
    return this.#state === 'open' && this.#res.writableLength === 0;
  }

  get ended(): boolean {
    return this.#state === 'ended';
  }

  /** Calls `listener` once, when the stream ends for whatever reason. */
  onClose(listener: () => void): void {
    if (this.#state === 'ended') listener();
    else this.#onClose.push(listener);
  }

  end(): void {
    if (this.#state === 'open') this.#res.end();
    this.#closed();
  }

  #write(chunk: string): void {
    this.#res.write(chunk);
    if (this.#res.writableLength > MAX_QUEUED_BYTES) this.#res.destroy();
  }

  #closed(): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    for (const listener of this.#onClose.splice(0)) listener();
  }
}
