import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Context } from 'koa';
import { HttpError } from './errors.js';
import { aloneOnConnection, takeConnection } from './take-connection.js';

/** What the browser waits before reconnecting a dropped stream (the SSE `retry` field). */
const RECONNECT_AFTER_MS = 2_000;

/**
 * Bytes a stream may have queued for a reader that does not keep up. Past it the connection is
 * dropped: the browser's EventSource reconnects and gets the current state, so nothing is lost,
 * and a slow reader never holds more than this in memory.
 */
const MAX_QUEUED_BYTES = 64 * 1024;

/**
 * The stream's own headers, over those the request's middleware set (traceId, CSP and the
 * other security headers). The body has neither a length nor chunked encoding: it ends when
 * the connection closes (HTTP/1.1 allows this, and EventSource and proxies read it so), so an
 * event is one plain write to the socket.
 */
const STREAM_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store, no-transform',
  // nginx buffers proxied responses unless told not to.
  'x-accel-buffering': 'no',
  connection: 'close',
};

/** Why a stream is not opened on a connection that carries other requests (see aloneOnConnection). */
const sharedConnection = () =>
  new HttpError(400, 'invalid_request', 'An event stream needs its connection to itself: send no other request on it before the stream has ended.');

/** Headers that would contradict a body ended by closing the connection. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'keep-alive']);

/** The status line and headers of an open stream: what `response` was given, then the stream's own. */
function streamHead(response: ServerResponse): string {
  let head = 'HTTP/1.1 200 OK\r\n';
  const headers = { ...response.getHeaders(), ...STREAM_HEADERS, date: new Date().toUTCString() };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || FRAMING_HEADERS.has(name)) continue;
    for (const one of Array.isArray(value) ? value : [value]) head += `${name}: ${one}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * One Server-Sent Events response. Until it opens it is an ordinary Koa response, so a request
 * refused before then gets an ordinary error. When it opens, the connection is taken from
 * Node's HTTP server and Koa (takeConnection) and the stream writes to the socket itself: an
 * open stream then costs its socket and this object, not a request, a response and a context.
 */
export class EventStream {
  /** Until the stream opens: what is set on ctx before then still goes out with the headers. */
  #ctx: Context | undefined;
  #socket: Socket | undefined;
  #state: 'new' | 'open' | 'ended' = 'new';
  /** Why the stream ended before it opened, when the request is to be answered with an error instead (see `open`). */
  #refusal: HttpError | undefined;
  /** When the stream last wrote to its socket (epoch ms). */
  #wroteAt = 0;
  readonly #onClose: Array<() => void> = [];
  readonly #closedEarly = () => this.#closed();

  constructor(ctx: Context) {
    this.#ctx = ctx;
    // A browser that went away while the request was read and checked closed its connection
    // already, and no `close` comes again: the stream ends now, holding nothing.
    if (ctx.req.socket.destroyed) this.#closed();
    else ctx.res.once('close', this.#closedEarly);
  }

  /**
   * Sends the headers; the stream stays open until `end` or the browser goes away. A HEAD
   * request is answered with the headers alone, as an ordinary response. A stream refused before
   * it opened (`refuse`, or a request that shares its connection) throws its error, which the
   * request is then answered with: neither holds anything open.
   */
  open(): void {
    if (this.#state === 'new') this.#openOrRefuse();
    if (this.#refusal) throw this.#refusal;
  }

  #openOrRefuse(): void {
    const ctx = this.#ctx!;
    if (ctx.method === 'HEAD') {
      ctx.status = 200;
      ctx.set(STREAM_HEADERS);
      return this.#closed();
    }
    if (!aloneOnConnection(ctx.req, ctx.res)) return this.refuse(sharedConnection());
    this.#state = 'open';
    this.#ctx = undefined;
    // What the request's access line reports: Koa's status stays at its 404 when no body is set.
    ctx.status = 200;
    ctx.respond = false;
    ctx.res.off('close', this.#closedEarly);
    const head = streamHead(ctx.res);
    const socket = takeConnection(ctx.req, ctx.res);
    this.#socket = socket;
    socket.on('error', () => socket.destroy());
    // The browser closed its side: it is gone (EventSource never half-closes).
    socket.on('end', () => socket.destroy());
    socket.on('close', () => this.#closed());
    socket.setNoDelay(true);
    this.#write(`${head}retry: ${RECONNECT_AFTER_MS}\n\n`);
  }

  /** Sends one event, queued behind earlier ones when the reader is slow. */
  send(event: string, data: string): void {
    if (this.#state === 'new') this.#openOrRefuse();
    if (this.#state === 'open') this.#write(`event: ${event}\ndata: ${data}\n\n`);
  }

  /**
   * Sends one event that a later one makes good (an animated code's frame) only when it can go
   * out at once: a reader that is behind skips it rather than queueing it.
   */
  offer(event: string, data: string, id: number): void {
    if (this.writable) this.#write(`id: ${id}\nevent: ${event}\ndata: ${data}\n\n`);
  }

  /**
   * A comment line, if nothing was written since `idleSince` (epoch ms): keeps proxies from
   * closing an idle connection. A stream that sends QR frames every second never needs one, and
   * writing one to each of 10,000 streams at once held the event loop for 0.3–0.6 s, late by
   * that much for every frame due meanwhile (BENCHMARKS.md, "QR frames at 10,000 streams").
   */
  heartbeat(idleSince: number): void {
    if (this.#wroteAt <= idleSince && this.writable) this.#write(': \n\n');
  }

  /**
   * Whether an event sent now goes out at once rather than into a queue: nothing is waiting for
   * the socket. (Not writableNeedDrain, which lets 16 KB queue first: with thousands of streams
   * on a busy machine, that was up to 16 KB of stale frames held per stream.)
   */
  get writable(): boolean {
    return this.#state === 'open' && this.#socket!.writableLength === 0;
  }

  get ended(): boolean {
    return this.#state === 'ended';
  }

  /** Ends a stream that has not opened yet with `error`, which `open` then throws for its request to be answered with. */
  refuse(error: HttpError): void {
    if (this.#state !== 'new') return;
    this.#refusal = error;
    this.#closed();
  }

  /** Calls `listener` once, when the stream ends for whatever reason. */
  onClose(listener: () => void): void {
    if (this.#state === 'ended') listener();
    else this.#onClose.push(listener);
  }

  /**
   * Ends the stream after what is queued has gone out; the connection closes with it. A reader
   * that is behind is dropped instead: its connection, no longer the HTTP server's, would stay
   * open for as long as it does not read — past the stream's limits, and holding the HTTP
   * server's close. Its browser reconnects and is told where the login stands.
   */
  end(): void {
    if (this.#state === 'open' && !this.writable) return this.drop();
    const socket = this.#socket;
    if (this.#state === 'open') socket!.end(() => socket!.destroy());
    this.#closed();
  }

  /** Ends the stream at once, dropping what is queued. */
  drop(): void {
    this.#socket?.destroy();
    this.#closed();
  }

  #write(chunk: string): void {
    const socket = this.#socket!;
    this.#wroteAt = Date.now();
    socket.write(chunk);
    if (socket.writableLength > MAX_QUEUED_BYTES) socket.destroy();
  }

  #closed(): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    for (const listener of this.#onClose.splice(0)) listener();
  }
}
