import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { requestBytes, ResponseReader } from '../lib/raw-http.js';

/**
 * A browser's EventSource, as lean as a load generator needs it to be: one raw HTTP/1.1
 * connection per stream, its body (chunked, or ended by closing the connection, as the broker
 * sends it) read by lib/raw-http.ts and its Server-Sent Events parsed by hand, so that one
 * process can hold ten thousand of them and still read each frame the moment it arrives.
 */

export interface StreamEvent {
  event: string;
  data: string;
  id?: string;
}

export interface StreamRequest {
  /** Where the connection goes: the instance a load balancer would pick. */
  host: string;
  port: number;
  /** The Host header: the broker's issuer, whichever instance serves. */
  hostHeader: string;
  path: string;
  cookie: string;
}

export interface StreamListener {
  /** The response's status line arrived; anything but 200 ends the connection. */
  opened(status: number, body: string): void;
  /** One event, with the time its bytes arrived (Date.now()). */
  event(event: StreamEvent, arrivedAt: number): void;
  /** The connection ended, by either side or by an error; `error` says why when it failed. */
  closed(error?: Error): void;
}

/** The broker's events that end a login's stream. */
const FINAL_EVENTS = new Set(['done', 'end']);

/** One open stream; `close` ends it from this side. */
export class EventStreamClient {
  readonly #socket: Socket;
  readonly #listener: StreamListener;
  readonly #reader: ResponseReader;
  readonly #decoder = new StringDecoder('utf8');
  #status = 0;
  /** A refused open's answer, for the listener. */
  #refusal = '';
  #text = '';
  #arrivedAt = 0;
  #closedByUs = false;
  #lastEvent = '';
  #error: Error | undefined;

  constructor(request: StreamRequest, listener: StreamListener) {
    this.#listener = listener;
    this.#reader = new ResponseReader({
      head: ({ status }) => this.#opened(status),
      body: (piece) => this.#body(piece),
      // The last chunk: the broker ended the stream.
      end: () => this.close(),
    });
    this.#socket = connect(request.port, request.host);
    this.#socket.setNoDelay(true);
    this.#socket.write(requestBytes('GET', request.hostHeader, request.path, { Accept: 'text/event-stream', 'Cache-Control': 'no-cache', Cookie: request.cookie }));
    this.#socket.on('data', (data: Buffer) => this.#received(data, Date.now()));
    this.#socket.on('error', (err) => (this.#error ??= err));
    this.#socket.on('close', () => listener.closed(this.#closedByUs ? undefined : (this.#error ?? this.#unexpectedEnd())));
  }

  close(): void {
    this.#closedByUs = true;
    this.#socket.destroy();
  }

  /**
   * An open stream that the broker closed without ending it; nothing to report for a refused
   * one. A body ended by closing the connection ends well after the broker's last event of a
   * login (`done` or `end`), as the last chunk ends a chunked one.
   */
  #unexpectedEnd(): Error | undefined {
    if (this.#status !== 200 || FINAL_EVENTS.has(this.#lastEvent)) return undefined;
    return new Error('closed by the broker');
  }

  #received(data: Buffer, arrivedAt: number): void {
    this.#arrivedAt = arrivedAt;
    try {
      this.#reader.push(data);
    } catch (err) {
      this.#error ??= err as Error;
      this.#socket.destroy();
      return;
    }
    if (this.#status !== 0 && this.#status !== 200 && !this.#closedByUs) {
      // An error answer is short and complete in its first packets: enough to say why.
      this.#listener.opened(this.#status, this.#refusal.slice(0, 300));
      this.close();
    }
  }

  #opened(status: number): void {
    this.#status = status;
    if (status === 200) this.#listener.opened(200, '');
  }

  #body(piece: Buffer): void {
    if (this.#status !== 200) {
      this.#refusal += piece.toString('utf8');
      return;
    }
    // The decoder keeps a character split between packets for the next.
    this.#text += this.#decoder.write(piece);
    this.#readEvents(this.#arrivedAt);
  }

  #readEvents(arrivedAt: number): void {
    let end: number;
    while ((end = this.#text.indexOf('\n\n')) >= 0) {
      const block = this.#text.slice(0, end);
      this.#text = this.#text.slice(end + 2);
      const event = parseEvent(block);
      if (!event) continue;
      this.#lastEvent = event.event;
      this.#listener.event(event, arrivedAt);
    }
  }
}

/** One event block's fields; undefined for a comment (a heartbeat) or a bare `retry`. */
function parseEvent(block: string): StreamEvent | undefined {
  let event = 'message';
  let data: string | undefined;
  let id: string | undefined;
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon === 0) continue;
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
    if (field === 'event') event = value;
    else if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    else if (field === 'id') id = value;
  }
  if (data === undefined) return undefined;
  return { event, data, ...(id === undefined ? {} : { id }) };
}
