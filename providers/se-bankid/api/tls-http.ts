import { isIP } from 'node:net';
import { connect, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls';

/**
 * A call that got no (complete) answer: no connection, a TLS failure, a connection closed
 * mid-answer, an answer HTTP/1.1 does not allow, the time limit, or the client closing.
 */
export class HttpCallError extends Error {
  constructor(
    message: string,
    /** The call ran out of time (rather than failing). */
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'HttpCallError';
  }
}

/**
 * A call whose answer came but cannot be read: larger than the limit, or not HTTP/1.1 as it
 * allows. The server is there and answering, so this is no call that failed to reach it.
 */
export class UnreadableAnswerError extends HttpCallError {
  constructor(message: string) {
    super(message);
    this.name = 'UnreadableAnswerError';
  }
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export interface TlsHttpClientOptions {
  /** https://host:port of the one server every call goes to. */
  origin: URL;
  /** The client certificate and the CAs the server is trusted through (only those). */
  secureContext: SecureContext;
  /** A call's whole time limit: waiting for a connection, connecting, and the whole answer. */
  timeoutMs: number;
  /** Connections kept at most; further calls wait for a free one, oldest first. */
  maxConnections: number;
  /** How long an unused connection is kept open, unless the server asks for less (Keep-Alive: timeout). */
  keepAliveMs: number;
  /**
   * Repeatable calls sent on one connection before their answers come back (HTTP/1.1
   * pipelining); 1, the default, sends one call at a time. Only repeatable calls are pipelined,
   * never behind or ahead of another call. The first time a connection closes unasked (without
   * a `Connection: close` answer) or a call times out with pipelined calls unanswered, those are
   * sent again once, one at a time, and the client pipelines no more: a front end that cannot
   * take pipelined requests costs a few calls sent twice (and a call that times out), once.
   */
  pipelineDepth?: number;
  /** Told when a server did not answer pipelined calls and the client stopped pipelining. */
  onPipeliningRefused?: () => void;
}

export interface CallOptions {
  /**
   * The call may be sent again: when the server closed a kept-alive connection just as the call
   * went out on it (no byte of an answer came back), it is sent once more on a new connection.
   */
  repeatable?: boolean;
}

/** Far above any answer of the APIs it serves (a BankID completion is a few tens of KB). */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** A status line and headers longer than this are not an API's answer. */
const MAX_HEAD_BYTES = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const LINE_END = Buffer.from('\r\n');
/** Statuses whose answers never have a body (a HEAD request is never made). */
const BODILESS = new Set([204, 304]);

interface Call {
  readonly request: string;
  readonly repeatable: boolean;
  readonly resolve: (answer: HttpAnswer) => void;
  readonly reject: (error: HttpCallError) => void;
  timer: NodeJS.Timeout | undefined;
  /** Sent again once already (see CallOptions.repeatable). */
  repeated: boolean;
  /** The connection it is under way on. */
  on: Connection | undefined;
  /** Sent on its connection behind another call still unanswered (pipelined). */
  behind: boolean;
}

/** How an answer's body ends, from its headers. */
type Framing = { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

interface Head {
  status: number;
  framing: Framing;
  keepAlive: boolean;
  /** Where the body starts in the bytes received. */
  bodyAt: number;
  /** The server's Keep-Alive: timeout, in ms, when it sent one. */
  serverKeepAliveMs: number | undefined;
}

/**
 * HTTP/1.1 calls to one server over mutual TLS, on kept-alive connections, one call at a time on
 * each or, for repeatable calls, up to `pipelineDepth` (see TlsHttpClientOptions). Made for JSON
 * APIs answering small bodies often (BankID's RP API, a collect every poll_frequency for every
 * waiting login): the requests of one turn of the event loop go out in one write per
 * connection, and answers are read as they come, with little else around them. Answers are read with a
 * Content-Length, chunked, or to the connection's close; anything else fails the call.
 */
export class TlsHttpClient {
  readonly #options: TlsHttpClientOptions;
  readonly #host: string;
  readonly #connectOptions: ConnectionOptions;
  readonly #connections = new Set<Connection>();
  /** Connections with no call, the most recently used last (taken first: warmest, least likely closed). */
  readonly #idle: Connection[] = [];
  readonly #queue: Call[] = [];
  /** The connection repeatable calls are pipelined on, until it holds pipelineDepth of them. */
  #filling: Connection | undefined;
  #pipelineDepth: number;
  #closed = false;

  constructor(options: TlsHttpClientOptions) {
    this.#options = options;
    this.#pipelineDepth = options.pipelineDepth ?? 1;
    const { origin } = options;
    if (origin.protocol !== 'https:') throw new Error(`expected an https origin, got ${origin.href}`);
    this.#host = origin.host;
    const host = origin.hostname.replace(/^\[|\]$/g, '');
    this.#connectOptions = {
      host,
      port: Number(origin.port || 443),
      // SNI takes host names only; an address is checked against the certificate all the same.
      ...(isIP(host) ? {} : { servername: host }),
      secureContext: options.secureContext,
      rejectUnauthorized: true,
      ALPNProtocols: ['http/1.1'],
    };
  }

  /** POST with a JSON body, or GET without one; resolves with any status, rejects with HttpCallError. */
  call(method: 'GET' | 'POST', path: string, json?: string, options: CallOptions = {}): Promise<HttpAnswer> {
    if (this.#closed) return Promise.reject(new HttpCallError('the client is closed'));
    const body = json === undefined ? '' : `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
    const request = `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n${body || '\r\n'}`;
    return new Promise((resolve, reject) => {
      const call: Call = { request, repeatable: options.repeatable ?? false, resolve, reject, timer: undefined, repeated: false, on: undefined, behind: false };
      call.timer = setTimeout(() => this.#timedOut(call), this.#options.timeoutMs);
      this.#dispatch(call);
    });
  }

  /** Connections open now (for tests and metrics). */
  get connections(): number {
    return this.#connections.size;
  }

  /** Whether repeatable calls are pipelined now: configured so, and no front end refused it yet. */
  get pipelining(): boolean {
    return this.#pipelineDepth > 1;
  }

  /**
   * Fails every call waiting or under way (as on shutdown: their answers would come to nobody)
   * and closes every connection; later calls fail at once.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const call of this.#queue.splice(0)) settle(call, new HttpCallError('the client is closed'));
    const closing = [...this.#connections].map((connection) => connection.destroy(new HttpCallError('the client is closed')));
    await Promise.all(closing);
  }

  #dispatch(call: Call): void {
    const pipelined = call.repeatable && this.pipelining;
    const filling = this.#filling;
    if (pipelined && filling?.takesPipelined && filling.calls < this.#pipelineDepth) {
      filling.send(call);
      return;
    }
    const connection = this.#takeConnection();
    if (!connection) {
      this.#queue.push(call);
      return;
    }
    if (pipelined) this.#filling = connection;
    connection.send(call);
  }

  /** An idle connection, the warmest first, or a new one while there is room for it. */
  #takeConnection(): Connection | undefined {
    let connection = this.#idle.pop();
    while (connection?.closing) connection = this.#idle.pop();
    if (connection) return connection;
    return this.#connections.size < this.#options.maxConnections ? this.#open() : undefined;
  }

  #open(): Connection {
    const socket = connect(this.#connectOptions);
    const connection = new Connection(socket, this.#options.keepAliveMs, {
      free: (free) => this.#free(free),
      gone: (gone, unanswered, refusedPipelining) => this.#gone(gone, unanswered, refusedPipelining),
    });
    this.#connections.add(connection);
    return connection;
  }

  /** A connection's calls have their answers: the next waiting call goes on it, or it waits idle. */
  #free(connection: Connection): void {
    // Idle, it may take a call that is not repeatable: the next pipeline starts on a connection taken anew.
    if (this.#filling === connection) this.#filling = undefined;
    const next = this.#queue.shift();
    if (next) connection.send(next);
    else this.#idle.push(connection);
  }

  /**
   * A connection closed. `unanswered`: its calls to send again (see CallOptions.repeatable and
   * TlsHttpClientOptions.pipelineDepth); `refusedPipelining`: the server did not answer calls
   * pipelined on it, so no more are.
   */
  #gone(connection: Connection, unanswered: Call[], refusedPipelining: boolean): void {
    this.#connections.delete(connection);
    if (this.#filling === connection) this.#filling = undefined;
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
    if (refusedPipelining && this.pipelining) {
      this.#pipelineDepth = 1;
      this.#options.onPipeliningRefused?.();
    }
    for (const call of unanswered) {
      call.repeated = true;
      this.#dispatch(call);
    }
    if (!unanswered.length && this.#queue.length) {
      // Room for a connection: the longest waiting call gets it.
      this.#dispatch(this.#queue.shift()!);
    }
  }

  #timedOut(call: Call): void {
    call.timer = undefined;
    const error = new HttpCallError(`no answer within ${this.#options.timeoutMs} ms`, true);
    const queued = this.#queue.indexOf(call);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      settle(call, error);
      return;
    }
    // Under way: its connection is in an unknown state (an answer may yet come), so it goes.
    void call.on?.destroy(error, call);
  }
}

/** Resolves or rejects a call, once, and stops its time limit. */
function settle(call: Call, outcome: HttpAnswer | HttpCallError): void {
  clearTimeout(call.timer);
  call.timer = undefined;
  if (outcome instanceof HttpCallError) call.reject(outcome);
  else call.resolve(outcome);
}

interface ConnectionEvents {
  free(connection: Connection): void;
  gone(connection: Connection, unanswered: Call[], refusedPipelining: boolean): void;
}

/**
 * One TLS connection and its calls under way, in the order sent (HTTP/1.1 answers them in that
 * order): writes their requests, those of one turn of the event loop in one write, and reads
 * their answers.
 */
class Connection {
  readonly #socket: TLSSocket;
  readonly #events: ConnectionEvents;
  readonly #calls: Call[] = [];
  /** Requests not yet written: they go out together once this turn of the event loop is done. */
  #unwritten = '';
  /** Bytes of the current answer received so far. */
  #received: Buffer | undefined;
  #head: Head | undefined;
  /** Whether a call was answered on it before (a kept-alive connection the server may have closed meanwhile). */
  #reused = false;
  /** Calls answered since it last had none under way. */
  #answeredSinceIdle = 0;
  /** The server answered with Connection: close: the calls behind that answer were never read, and go again. */
  #endAnnounced = false;
  #keepAliveMs: number;
  #closed: Promise<void> | undefined;
  /** Why this side ended it (time limit, a malformed answer, the client closing), and the call that fails so (all when undefined). */
  #failure: { error: HttpCallError; call: Call | undefined } | undefined;
  /** What the network or TLS reported. */
  #socketError: HttpCallError | undefined;

  constructor(socket: TLSSocket, keepAliveMs: number, events: ConnectionEvents) {
    this.#socket = socket;
    this.#events = events;
    this.#keepAliveMs = keepAliveMs;
    socket.setNoDelay(true);
    // Activity restarts it; it ends the connection only while idle (a call has its own limit).
    socket.setTimeout(keepAliveMs);
    socket.on('timeout', () => {
      if (!this.#calls.length) void this.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', (err: Error) => {
      this.#socketError ??= new HttpCallError(err.message);
    });
    // The server ended its side: nothing more will come, so no call can go on it.
    socket.on('end', () => void this.destroy());
    socket.on('close', () => this.#gone());
  }

  /** Whether it is closing: it takes no call. */
  get closing(): boolean {
    return this.#closed !== undefined || this.#socket.destroyed || this.#endAnnounced;
  }

  /** Calls under way on it. */
  get calls(): number {
    return this.#calls.length;
  }

  /** Whether a repeatable call may be pipelined behind its calls: all of them are repeatable. */
  get takesPipelined(): boolean {
    return !this.closing && this.#calls.every((call) => call.repeatable);
  }

  send(call: Call): void {
    call.behind = this.#calls.length > 0;
    call.on = this;
    this.#calls.push(call);
    if (!this.#unwritten) setImmediate(() => this.#write());
    this.#unwritten += call.request;
  }

  /**
   * Closes it; `call` (all its calls when undefined) fails with `failure`, the others as the
   * close leaves them (see #gone).
   */
  destroy(failure?: HttpCallError, call?: Call): Promise<void> {
    if (failure) this.#failure ??= { error: failure, call };
    this.#closed ??= new Promise((resolve) => {
      if (this.#socket.closed) resolve();
      else this.#socket.once('close', () => resolve());
    });
    this.#socket.destroy();
    return this.#closed;
  }

  #write(): void {
    const requests = this.#unwritten;
    this.#unwritten = '';
    if (!this.closing) this.#socket.write(requests);
  }

  #read(chunk: Buffer): void {
    this.#received = this.#received ? Buffer.concat([this.#received, chunk]) : chunk;
    try {
      while (this.#received) {
        if (!this.#calls.length) {
          // Bytes no call asked for: the connection is not in a state to trust.
          void this.destroy();
          return;
        }
        this.#head ??= parseHead(this.#received);
        if (!this.#head) return;
        if (this.#received.length - this.#head.bodyAt > MAX_ANSWER_BYTES) throw new UnreadableAnswerError('the answer is too large');
        const body = completeBody(this.#received, this.#head);
        if (body === undefined) return;
        if (!this.#answered(body)) return;
      }
      if (!this.#calls.length) {
        this.#answeredSinceIdle = 0;
        this.#events.free(this);
      }
    } catch (err) {
      void this.destroy(err instanceof HttpCallError ? err : new HttpCallError((err as Error).message), this.#calls[0]);
    }
  }

  /** Settles the first call with its answer; whether the connection stays for the rest. */
  #answered(body: { text: string; end: number }): boolean {
    const call = this.#calls.shift()!;
    const head = this.#head!;
    call.on = undefined;
    this.#received = this.#received!.length > body.end ? this.#received!.subarray(body.end) : undefined;
    this.#head = undefined;
    this.#reused = true;
    this.#answeredSinceIdle += 1;
    settle(call, { status: head.status, body: body.text });
    if (!head.keepAlive) {
      this.#endAnnounced = true;
      void this.destroy();
      return false;
    }
    if (head.serverKeepAliveMs !== undefined && head.serverKeepAliveMs < this.#keepAliveMs) {
      this.#keepAliveMs = head.serverKeepAliveMs;
      this.#socket.setTimeout(this.#keepAliveMs);
    }
    return true;
  }

  /**
   * The socket closed. Its calls end now: answered (a body that runs to the close), to be sent
   * again (see CallOptions.repeatable), or failed. Calls pipelined behind the first were never
   * answered, whatever the cause, and go again once.
   */
  #gone(): void {
    const calls = this.#calls.splice(0);
    const unanswered: Call[] = [];
    let pipelinedUnanswered = false;
    calls.forEach((call, index) => {
      call.on = undefined;
      const failure = this.#failure;
      pipelinedUnanswered ||= call.behind;
      if (failure && (failure.call === undefined || failure.call === call)) settle(call, failure.error);
      else if (index === 0 && this.#answeredByClose()) settle(call, { status: this.#head!.status, body: this.#received!.toString('utf8', this.#head!.bodyAt) });
      else if (call.repeatable && !call.repeated && (index > 0 || failure !== undefined || (this.#reused && !this.#received))) unanswered.push(call);
      else settle(call, this.#socketError ?? new HttpCallError('the server closed the connection before the answer was complete'));
    });
    this.#events.gone(this, unanswered, pipelinedUnanswered && this.#refusedPipelining());
  }

  /**
   * Whether calls pipelined on it went unanswered because the server does not take pipelined
   * requests: it answered some and then stopped (closing, or silent until a call's time ran
   * out), or closed a new connection without answering. Not when it announced its close
   * (Connection: close), the client closed, or a kept-alive connection closed before any answer
   * came (the server ending it as idle just as calls went out).
   */
  #refusedPipelining(): boolean {
    if (this.#endAnnounced || (this.#failure && this.#failure.call === undefined)) return false;
    return this.#answeredSinceIdle > 0 || (!this.#reused && !this.#failure);
  }

  /** Whether the first call's answer was one that runs to the close. */
  #answeredByClose(): boolean {
    return this.#head?.framing.kind === 'close' && !this.#socketError && !this.#failure;
  }
}

/** The answer's status line and headers, once all have come; undefined until then. Informational (1xx) answers are skipped. */
function parseHead(received: Buffer): Head | undefined {
  let start = 0;
  for (;;) {
    const end = received.indexOf(HEAD_END, start);
    if (end < 0) {
      if (received.length - start > MAX_HEAD_BYTES) throw new UnreadableAnswerError('the answer\'s headers are too long');
      return undefined;
    }
    const lines = received.toString('latin1', start, end).split('\r\n');
    const status = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: |$)/.exec(lines[0]!);
    if (!status) throw new UnreadableAnswerError('not an HTTP/1.1 answer');
    const code = Number(status[2]);
    if (code >= 100 && code < 200) {
      start = end + HEAD_END.length;
      continue;
    }
    return headOf(code, status[1] === '1', lines, end + HEAD_END.length);
  }
}

function headOf(status: number, http11: boolean, lines: string[], bodyAt: number): Head {
  let length: number | undefined;
  let chunked = false;
  let connection = '';
  let serverKeepAliveMs: number | undefined;
  for (let index = 1; index < lines.length; index += 1) {
    const line = lines[index]!;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new UnreadableAnswerError('a malformed header in the answer');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d+$/.test(value) || (length !== undefined && length !== Number(value))) throw new UnreadableAnswerError('a malformed Content-Length in the answer');
      length = Number(value);
    } else if (name === 'transfer-encoding') {
      chunked = value.toLowerCase() === 'chunked';
      if (!chunked) throw new UnreadableAnswerError(`an unsupported Transfer-Encoding in the answer: ${value}`);
    } else if (name === 'connection') {
      connection = value.toLowerCase();
    } else if (name === 'keep-alive') {
      const timeout = /(?:^|,)\s*timeout=(\d+)/i.exec(value)?.[1];
      // A second early: the server may close at its limit while a call is on its way.
      if (timeout) serverKeepAliveMs = Math.max(0, (Number(timeout) - 1) * 1000);
    }
  }
  const framing: Framing = BODILESS.has(status) ? { kind: 'length', length: 0 } : chunked ? { kind: 'chunked' } : length !== undefined ? { kind: 'length', length } : { kind: 'close' };
  const keepAlive = framing.kind !== 'close' && serverKeepAliveMs !== 0 && (http11 ? !connection.includes('close') : connection.includes('keep-alive'));
  return { status, framing, keepAlive, bodyAt, serverKeepAliveMs };
}

/** The whole body and where the answer ends, once all of it has come; undefined until then. */
function completeBody(received: Buffer, head: Head): { text: string; end: number } | undefined {
  const { framing, bodyAt } = head;
  if (framing.kind === 'close') return undefined;
  if (framing.kind === 'length') {
    const end = bodyAt + framing.length;
    return received.length >= end ? { text: received.toString('utf8', bodyAt, end), end } : undefined;
  }
  return dechunk(received, bodyAt);
}

/** A chunked body, once its last chunk and trailers have come. */
function dechunk(received: Buffer, bodyAt: number): { text: string; end: number } | undefined {
  const chunks: Buffer[] = [];
  let at = bodyAt;
  for (;;) {
    const lineEnd = received.indexOf(LINE_END, at);
    if (lineEnd < 0) return undefined;
    const sizeText = received.toString('latin1', at, lineEnd).split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new UnreadableAnswerError('a malformed chunk in the answer');
    const size = parseInt(sizeText, 16);
    if (size === 0) {
      // Trailers (ignored), then an empty line: right away, "0\r\n\r\n".
      const trailersEnd = received.indexOf(HEAD_END, lineEnd);
      if (trailersEnd < 0) return undefined;
      return { text: Buffer.concat(chunks).toString('utf8'), end: trailersEnd + HEAD_END.length };
    }
    const dataAt = lineEnd + 2;
    if (received.length < dataAt + size + 2) return undefined;
    if (!received.subarray(dataAt + size, dataAt + size + 2).equals(LINE_END)) throw new UnreadableAnswerError('a malformed chunk in the answer');
    chunks.push(received.subarray(dataAt, dataAt + size));
    at = dataAt + size + 2;
  }
}
