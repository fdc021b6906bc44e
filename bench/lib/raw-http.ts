import { connect, type Socket } from 'node:net';
import type { Answer } from './http.js';

/**
 * HTTP/1.1 by hand, for load generators that hold thousands of browsers' connections: a
 * request's bytes built once and sent as they are, and answers read with as little around them
 * as HTTP/1.1 allows (the status line, the header fields, and the body's end: its Content-Length,
 * its last chunk, or the connection's close). A general client (undici) spends several times
 * the CPU per request, which the load generator takes from the server it measures.
 */

/** A request's bytes: the request line, Host, the header fields given, and the body with its Content-Length. */
export function requestBytes(method: 'GET' | 'POST', host: string, path: string, headers: Record<string, string>, body?: string): Buffer {
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (body === undefined) return Buffer.from(`${head}\r\n`, 'latin1');
  return Buffer.concat([Buffer.from(`${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`, 'latin1'), Buffer.from(body)]);
}

export interface ResponseHead {
  status: number;
  /** Header fields by lower-case name, as undici and Node's http give them: a repeated one (Set-Cookie) as a list. */
  headers: Answer['headers'];
  /** Whether the server keeps the connection open after this answer. */
  keepAlive: boolean;
}

export interface ResponseEvents {
  head(head: ResponseHead): void;
  /** A piece of the body, as it arrived (chunked framing removed). */
  body(piece: Buffer): void;
  /** The body is complete. A body that runs to the connection's close ends with the close instead. */
  end(): void;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
/** A status line and header fields longer than this are not the broker's. */
const MAX_HEAD_BYTES = 16 * 1024;
/** Statuses whose answers never have a body (no HEAD request is made). */
const BODILESS = new Set([204, 304]);

/** Where the current answer is: its head, a body of known length, a chunk's data, a line of chunked framing, or a body to the close. */
type Reading =
  | { at: 'head' }
  | { at: 'length' | 'chunk'; left: number }
  | { at: 'chunk-size' | 'chunk-end' | 'trailer' }
  | { at: 'close' };

/**
 * Reads the answers on one connection, one after another, from the bytes as they arrive; throws
 * on bytes HTTP/1.1 does not allow (the connection is then not to be trusted further).
 */
export class ResponseReader {
  #pending: Buffer | undefined;
  #reading: Reading = { at: 'head' };

  constructor(private readonly events: ResponseEvents) {}

  /** Whether the current answer's body runs to the connection's close. */
  get readsToClose(): boolean {
    return this.#reading.at === 'close';
  }

  push(data: Buffer): void {
    let bytes = this.#pending ? Buffer.concat([this.#pending, data]) : data;
    this.#pending = undefined;
    while (bytes.length) {
      const used = this.#step(bytes);
      if (used < 0) {
        this.#pending = bytes;
        return;
      }
      bytes = bytes.subarray(used);
    }
  }

  /** Reads what it can of `bytes`, from where the answer is; how many bytes it used, or -1 when it needs more. */
  #step(bytes: Buffer): number {
    const reading = this.#reading;
    switch (reading.at) {
      case 'head':
        return this.#readHead(bytes);
      case 'close':
        this.events.body(bytes);
        return bytes.length;
      case 'length':
      case 'chunk': {
        const piece = bytes.length > reading.left ? bytes.subarray(0, reading.left) : bytes;
        this.events.body(piece);
        reading.left -= piece.length;
        if (reading.left === 0) {
          if (reading.at === 'length') this.#ended();
          else this.#reading = { at: 'chunk-end' };
        }
        return piece.length;
      }
      default: {
        const end = bytes.indexOf(CRLF);
        if (end < 0) return -1;
        this.#readLine(reading.at, bytes.toString('latin1', 0, end));
        return end + CRLF.length;
      }
    }
  }

  /** A line of chunked framing: a chunk's size, the end of its data, or a trailer field until the blank line that ends the answer. */
  #readLine(at: 'chunk-size' | 'chunk-end' | 'trailer', line: string): void {
    if (at === 'chunk-size') {
      // A chunk extension (";name=value") may follow the size; parseInt stops at it.
      const size = parseInt(line, 16);
      if (!/^[0-9a-f]/i.test(line) || !Number.isSafeInteger(size)) throw new Error(`not a chunk size: ${line.slice(0, 100)}`);
      this.#reading = size === 0 ? { at: 'trailer' } : { at: 'chunk', left: size };
    } else if (at === 'chunk-end') {
      if (line !== '') throw new Error('a chunk longer than its size');
      this.#reading = { at: 'chunk-size' };
    } else if (line === '') {
      this.#ended();
    }
  }

  #ended(): void {
    this.#reading = { at: 'head' };
    this.events.end();
  }

  #readHead(bytes: Buffer): number {
    const end = bytes.indexOf(HEAD_END);
    if (end < 0) {
      if (bytes.length > MAX_HEAD_BYTES) throw new Error('an answer head too long');
      return -1;
    }
    const lines = bytes.toString('latin1', 0, end).split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]!)?.[1];
    if (!status) throw new Error(`not an HTTP/1.1 status line: ${lines[0]!.slice(0, 100)}`);
    const headers: Answer['headers'] = {};
    for (let i = 1; i < lines.length; i += 1) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`not a header field: ${line.slice(0, 100)}`);
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      const before = headers[name];
      headers[name] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
    }
    const head: ResponseHead = { status: Number(status), headers, keepAlive: !/\bclose\b/i.test(String(headers.connection ?? '')) };
    // An interim answer (100 Continue and the like) comes before the final one, which is read next.
    if (head.status < 200) return end + HEAD_END.length;
    this.#reading = bodyFraming(head);
    this.events.head(head);
    if (this.#reading.at === 'length' && this.#reading.left === 0) this.#ended();
    return end + HEAD_END.length;
  }
}

/** How an answer's body ends, from its status and header fields (RFC 9112, section 6.3). */
function bodyFraming({ status, headers }: ResponseHead): Reading {
  if (BODILESS.has(status)) return { at: 'length', left: 0 };
  const encoding = headers['transfer-encoding'];
  if (encoding !== undefined) {
    if (!/(^|,)\s*chunked\s*$/i.test(String(encoding))) return { at: 'close' };
    return { at: 'chunk-size' };
  }
  const length = headers['content-length'];
  if (length === undefined) return { at: 'close' };
  if (Array.isArray(length) || !/^\d+$/.test(length)) throw new Error(`a Content-Length that is not one: ${String(length)}`);
  return { at: 'length', left: Number(length) };
}

export interface Address {
  host: string;
  port: number;
}

/** How long an answer may take, as the load generators' undici agent allows; an idle connection is closed after as long. */
const ANSWER_TIMEOUT_MS = 30_000;

class NoAnswerInTime extends Error {}

interface Call {
  request: Buffer;
  resolve(answer: Answer): void;
  reject(error: Error): void;
  /** Sent on a connection that an earlier answer came on: the server may have closed it just then. */
  reused: boolean;
  /** Sent again already, after its kept-alive connection closed before any byte of an answer. */
  resent: boolean;
  /** Bytes of its answer have arrived. */
  answering: boolean;
  head?: ResponseHead;
  body: Buffer[];
}

/**
 * One browser page's kept-alive connection to one server: one request at a time, its answer read
 * whole. It connects at the first request, and again at the next one after the server closed
 * it (its keep-alive timeout, or an answer with Connection: close). A request sent on a
 * kept-alive connection just as the server closed it, before any byte of an answer, is sent once
 * more on a new connection, as browsers do.
 */
export class KeptAliveConnection {
  #socket: Socket | undefined;
  #call: Call | undefined;

  constructor(private readonly address: Address) {}

  send(request: Buffer): Promise<Answer> {
    if (this.#call) return Promise.reject(new Error('a request is under way on this connection'));
    return new Promise((resolve, reject) => {
      this.#call = { request, resolve, reject, reused: this.#socket !== undefined, resent: false, answering: false, body: [] };
      this.#write(this.#call);
    });
  }

  /** Closes the connection; a request under way fails. */
  close(): void {
    this.#socket?.destroy();
  }

  #write(call: Call): void {
    if (!this.#socket) this.#open();
    this.#socket!.write(call.request);
  }

  #open(): void {
    const socket = connect(this.address.port, this.address.host);
    const reader = new ResponseReader({
      head: (head) => (this.#call!.head = head),
      body: (piece) => this.#call!.body.push(piece),
      end: () => this.#answered(socket),
    });
    let failure: Error | undefined;
    socket.setNoDelay(true);
    socket.setTimeout(ANSWER_TIMEOUT_MS);
    socket.on('timeout', () => {
      if (this.#call) failure ??= new NoAnswerInTime(`no answer within ${ANSWER_TIMEOUT_MS} ms`);
      socket.destroy();
    });
    socket.on('data', (data: Buffer) => {
      try {
        if (!this.#call) throw new Error('bytes that no request asked for');
        this.#call.answering = true;
        reader.push(data);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('error', (error) => (failure ??= error));
    socket.on('close', () => this.#closed(socket, reader, failure));
    this.#socket = socket;
  }

  #answered(socket: Socket): void {
    const call = this.#call!;
    this.#call = undefined;
    if (!call.head!.keepAlive) this.#drop(socket);
    call.resolve({ status: call.head!.status, headers: call.head!.headers, text: Buffer.concat(call.body).toString('utf8') });
  }

  /** The connection closed: the request under way is answered (a body that ran to the close), sent again, or fails. */
  #closed(socket: Socket, reader: ResponseReader, failure: Error | undefined): void {
    // A connection dropped before (its answer said Connection: close) takes no request with it.
    if (this.#socket !== socket) return;
    this.#drop(socket);
    const call = this.#call;
    if (!call) return;
    if (call.head && reader.readsToClose && !failure) return this.#answered(socket);
    // Closed (or reset) as the request went out on a connection kept alive: as a browser does, it goes again on a new one.
    if (call.reused && !call.resent && !call.answering && !(failure instanceof NoAnswerInTime)) {
      call.resent = true;
      call.reused = false;
      return this.#write(call);
    }
    this.#call = undefined;
    call.reject(failure ?? new Error(call.head ? 'the connection closed mid-answer' : 'the connection closed before an answer'));
  }

  #drop(socket: Socket): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    socket.destroy();
  }
}
