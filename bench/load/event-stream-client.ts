import { connect, type Socket } from 'node:net';

/**
 * A browser's EventSource, as lean as a load generator needs it to be: one raw HTTP/1.1
 * connection per stream, its body (chunked, or ended by closing the connection, as the broker
 * sends it) decoded and its Server-Sent Events parsed by hand, so that one process can hold ten
 * thousand of them and still read each frame the moment it arrives.
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

const HEADER_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
const EVENT_END = Buffer.from('\n\n');
/** The broker's events that end a login's stream. */
const FINAL_EVENTS = new Set(['done', 'end']);

/** One open stream; `close` ends it from this side. */
export class EventStreamClient {
  readonly #socket: Socket;
  readonly #listener: StreamListener;
  #pending: Buffer = Buffer.alloc(0);
  #status = 0;
  /** Whether the body comes in chunks; else it is everything until the connection closes. */
  #chunked = false;
  /** Bytes of the current chunk still to come, or -1 while a chunk-size line is expected. */
  #chunkLeft = -1;
  #text = '';
  #closedByUs = false;
  #lastEvent = '';
  #error: Error | undefined;

  constructor(request: StreamRequest, listener: StreamListener) {
    this.#listener = listener;
    this.#socket = connect(request.port, request.host);
    this.#socket.setNoDelay(true);
    this.#socket.write(
      `GET ${request.path} HTTP/1.1\r\nHost: ${request.hostHeader}\r\nAccept: text/event-stream\r\n` +
        `Cache-Control: no-cache\r\nCookie: ${request.cookie}\r\n\r\n`,
    );
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
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, data]) : data;
    if (this.#status === 0 && !this.#readHead()) return;
    if (this.#status !== 200) return;
    if (this.#chunked) return this.#readChunks(arrivedAt);
    // Up to the last event's end: a packet may split a character, never the blank line after an event.
    const end = this.#pending.lastIndexOf(EVENT_END);
    if (end < 0) return;
    this.#text += this.#pending.subarray(0, end + EVENT_END.length).toString('utf8');
    this.#pending = this.#pending.subarray(end + EVENT_END.length);
    this.#readEvents(arrivedAt);
  }

  /** The status line and headers; false while they have not all arrived. */
  #readHead(): boolean {
    const end = this.#pending.indexOf(HEADER_END);
    if (end < 0) return false;
    const head = this.#pending.subarray(0, end).toString('latin1');
    this.#pending = this.#pending.subarray(end + HEADER_END.length);
    this.#status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    if (this.#status !== 200) {
      // An error answer is short and complete in its first packets: enough to say why.
      this.#listener.opened(this.#status, this.#pending.toString('utf8').slice(0, 300));
      this.close();
      return false;
    }
    this.#chunked = /^transfer-encoding: chunked$/im.test(head);
    this.#listener.opened(200, '');
    return true;
  }

  #readChunks(arrivedAt: number): void {
    for (;;) {
      if (this.#chunkLeft < 0) {
        const end = this.#pending.indexOf(CRLF);
        if (end < 0) return;
        this.#chunkLeft = parseInt(this.#pending.subarray(0, end).toString('latin1'), 16);
        this.#pending = this.#pending.subarray(end + CRLF.length);
        if (this.#chunkLeft === 0) return this.close();
      }
      // The chunk and the CRLF after it.
      if (this.#pending.length < this.#chunkLeft + CRLF.length) return;
      // The broker writes whole events in one chunk, so a chunk never splits a character.
      this.#text += this.#pending.subarray(0, this.#chunkLeft).toString('utf8');
      this.#pending = this.#pending.subarray(this.#chunkLeft + CRLF.length);
      this.#chunkLeft = -1;
      this.#readEvents(arrivedAt);
    }
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
