import { setTimeout as sleep } from 'node:timers/promises';
import { createSecureContext } from 'node:tls';
import { CircuitOpenError, type EidTelemetry, type Logger } from '../../../src/eids/sdk.js';
import type { BankIdTls } from '../config.js';
import { answerShapes, parsedAnswer } from './answers.js';
import { HttpCallError, TlsHttpClient, UnreadableAnswerError } from './tls-http.js';
import type { AuthRequest, CollectResponse, OrderResponse, PaymentRequest, PhoneOrderResponse, PhoneRequest, SignRequest } from './types.js';

/**
 * BankID answered with an error, or could not be reached. `errorCode` is BankID's own
 * (alreadyInProgress, maintenance, …; new ones may appear at any time) or, for a call that got
 * no answer, `unreachable`.
 */
export class BankIdApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    readonly details: string,
    /** For `unreachable`: the call ran out of time (rather than finding nobody there). */
    readonly timedOut = false,
  ) {
    super(`BankID ${errorCode} (${status})`);
    this.name = 'BankIdApiError';
  }

  /**
   * Whether BankID is failing, rather than refusing this request: no answer, a timeout, or a
   * 5xx or 408 (requestTimeout, internalError, maintenance). Such errors open the circuit.
   */
  get isOutage(): boolean {
    return this.status === 0 || this.status === 408 || this.status >= 500;
  }
}

/** Connections to BankID one instance keeps at most; further calls queue for a free one. */
const MAX_CONNECTIONS = 64;

/** How long an unused connection to BankID is kept open (less when BankID asks for less). */
const KEEP_ALIVE_MS = 30_000;

/**
 * Collects sent on one connection before their answers come back, when pipelining is on: the
 * collects of one tick (at most 128) go out on eight connections, a write each, and their
 * answers come back in a few reads, not one write and one read per collect (BENCHMARKS.md).
 */
const PIPELINE_DEPTH = 16;

/** Calls BankID may get twice without harm: asking an order's status. */
const REPEATABLE = new Set(['collect']);

/** The operation each endpoint is measured as (neb_eid_request_*{operation}). */
const operations: Record<string, string> = { auth: 'start', sign: 'sign', payment: 'payment', 'phone/auth': 'phone_auth', 'phone/sign': 'phone_sign', collect: 'collect', cancel: 'cancel' };

/** How a failed call counts in the metrics and for the circuit breaker. */
export function classifyBankIdError(error: unknown): { reason: string; upstreamFailure: boolean } {
  if (error instanceof BankIdApiError) return { reason: error.timedOut ? 'timeout' : error.errorCode, upstreamFailure: error.isOutage };
  return { reason: 'error', upstreamFailure: false };
}

export interface BankIdClientOptions {
  /** The RP API's base, e.g. https://appapi2.test.bankid.com/rp/v6.0 */
  url: string;
  tls: BankIdTls;
  timeoutMs: number;
  log: Logger;
  /** Metrics and the circuit breaker, which every call then goes through (the plugin always sets it). */
  telemetry?: EidTelemetry;
  /** Pipeline collects (HTTP/1.1) on kept-alive connections: see `pipeline_collects` in config.ts. */
  pipelineCollects?: boolean;
  /** Silent retries of a call answered with `maintenance`; BankID allows them, and no others. */
  maintenanceRetries?: number;
  maintenanceBackoffMs?: number;
}

/**
 * The RP API over mutual TLS. The server is trusted through the pinned BankID CA only, never
 * the system store. Every call has a time limit. Only `maintenance` is retried (a few times,
 * with backoff and jitter): BankID asks that requestTimeout and internalError are not retried
 * automatically, and the other errors cannot get better by trying again. Every call (retries
 * included) goes through the eID's circuit breaker, which answers `circuitOpen` at once while
 * BankID is known to be down.
 */
export class BankIdClient {
  /** The RP API's path, e.g. /rp/v6.0: every call goes to one origin, on kept-alive connections. */
  readonly #path: string;
  readonly #http: TlsHttpClient;
  readonly #log: Logger;
  readonly #maintenanceRetries: number;
  readonly #maintenanceBackoffMs: number;
  readonly #telemetry: EidTelemetry | undefined;

  constructor(options: BankIdClientOptions) {
    this.#telemetry = options.telemetry;
    const url = new URL(options.url);
    this.#path = url.pathname.replace(/\/$/, '');
    this.#log = options.log;
    this.#maintenanceRetries = options.maintenanceRetries ?? 2;
    this.#maintenanceBackoffMs = options.maintenanceBackoffMs ?? 250;
    const { ca, cert, key, pfx, passphrase } = options.tls;
    // One TLS context for every connection: built per connection, parsing the key and the
    // certificates again is most of what a new connection costs when many open at once.
    const secureContext = createSecureContext({ ca, cert, key, pfx, passphrase, minVersion: 'TLSv1.2' });
    // Our own HTTP/1.1 client rather than undici's: a collect runs every poll_frequency for every
    // waiting login, and undici's machinery around each call cost 0.10–0.13 ms of CPU, most of
    // what a waiting login costs (BENCHMARKS.md). Every call has the time limit as a whole:
    // waiting for a connection, connecting, and the whole answer.
    this.#http = new TlsHttpClient({
      origin: url,
      secureContext,
      timeoutMs: options.timeoutMs,
      maxConnections: MAX_CONNECTIONS,
      keepAliveMs: KEEP_ALIVE_MS,
      pipelineDepth: options.pipelineCollects ? PIPELINE_DEPTH : 1,
      onPipeliningRefused: () => this.#log.warn({ origin: url.origin }, 'BankID did not answer pipelined collects: the collects still unanswered are sent again, and collects go one at a time from now on'),
    });
  }

  auth(body: AuthRequest): Promise<OrderResponse> {
    return this.#call('auth', body);
  }

  sign(body: SignRequest): Promise<OrderResponse> {
    return this.#call('sign', body);
  }

  /** An order at the endpoint a login's transaction needs (see transactions.ts), its body built to fit. */
  order(endpoint: 'auth' | 'sign' | 'payment', body: AuthRequest | SignRequest | PaymentRequest): Promise<OrderResponse> {
    return this.#call(endpoint, body);
  }

  /** An order on the phone of a person in a call with the relying party: `/phone/auth` or `/phone/sign`. */
  phone(kind: 'auth' | 'sign', body: PhoneRequest): Promise<PhoneOrderResponse> {
    return this.#call(`phone/${kind}`, body);
  }

  collect(orderRef: string): Promise<CollectResponse> {
    return this.#call('collect', { orderRef }, (answer: CollectResponse) => answer?.orderRef === orderRef);
  }

  async cancel(orderRef: string): Promise<void> {
    await this.#call('cancel', { orderRef });
  }

  /** Ends every connection; calls under way or waiting fail as unreachable (no one waits for their answers). */
  close(): Promise<void> {
    return this.#http.close();
  }

  /**
   * Resolves when the RP API answers at all: a GET, which it refuses with 405 (BankID's own
   * sample checks the connection so). Needs the mutual TLS to work, and does nothing at BankID.
   */
  async probe(): Promise<void> {
    let status: number;
    try {
      ({ status } = await this.#http.call('GET', `${this.#path}/auth`));
    } catch (err) {
      throw failedCall(err);
    }
    if (status >= 500 || status === 408) throw new BankIdApiError(status, `http${status}`, 'the probe was answered with an error');
  }

  /** `answers`: whether an answer is the one to this call (see #post). */
  async #call<T>(endpoint: string, body: object, answers?: (answer: T) => boolean): Promise<T> {
    if (!this.#telemetry) return this.#attempts<T>(endpoint, body, answers);
    try {
      return await this.#telemetry.run(operations[endpoint] ?? endpoint, () => this.#attempts<T>(endpoint, body, answers), { classify: classifyBankIdError });
    } catch (err) {
      if (err instanceof CircuitOpenError) throw new BankIdApiError(0, 'circuitOpen', 'BankID failed repeatedly: calls are paused');
      throw err;
    }
  }

  async #attempts<T>(endpoint: string, body: object, answers?: (answer: T) => boolean): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#post<T>(endpoint, body, answers);
      } catch (err) {
        const retry = err instanceof BankIdApiError && err.errorCode === 'maintenance' && attempt < this.#maintenanceRetries;
        if (!retry) throw err;
        const delay = this.#maintenanceBackoffMs * 2 ** attempt * (0.5 + Math.random());
        this.#log.warn({ endpoint, attempt: attempt + 1, delay: Math.round(delay) }, 'BankID is in maintenance; retrying');
        await sleep(delay);
      }
    }
  }

  /**
   * One call. An answer that `answers` says is not this call's (a collect's naming another
   * order) is refused as BankID failing for a moment, and logged: pipelined answers are matched
   * to their calls by their order on the connection, and a mismatch there must never move
   * another person's login, let alone complete it. The login waits and the next collect asks again.
   */
  async #post<T>(endpoint: string, body: object, answers?: (answer: T) => boolean): Promise<T> {
    const started = performance.now();
    let answer: { status: number; body: string };
    try {
      answer = await this.#http.call('POST', `${this.#path}/${endpoint}`, JSON.stringify(body), { repeatable: REPEATABLE.has(endpoint) });
    } catch (err) {
      const failed = failedCall(err);
      this.#log.warn({ endpoint, reason: (err as Error).message, ms: Math.round(performance.now() - started) }, failureLines[failed.errorCode] ?? 'BankID could not be reached');
      throw failed;
    }
    this.#log.debug({ endpoint, status: answer.status, ms: Math.round(performance.now() - started) }, 'BankID call');
    if (answer.status !== 200) throw errorFromResponse(answer.status, answer.body);
    const parsed = parsedAnswer(answer.body) as T;
    if (answers && parsed !== undefined && !answers(parsed)) {
      this.#log.error({ endpoint }, 'BankID answered a call with an answer to another: refused');
      throw new BankIdApiError(0, 'mismatchedAnswer', 'the answer was not to this call');
    }
    if (!answerShapes[endpoint]?.(parsed)) {
      this.#log.error({ endpoint, bytes: answer.body.length }, 'BankID answered 200 with a body that is not an answer of the RP API: refused');
      throw new BankIdApiError(0, 'malformedAnswer', 'the answer was not one of the RP API');
    }
    return parsed;
  }
}

/**
 * A call that got no answer to use: `malformedAnswer` when one came but could not be read (too
 * large, not HTTP/1.1), as for a 200 that is not the RP API's; `unreachable` when none came.
 */
function failedCall(err: unknown): BankIdApiError {
  if (err instanceof UnreadableAnswerError) return new BankIdApiError(0, 'malformedAnswer', err.message);
  return new BankIdApiError(0, 'unreachable', (err as Error).message, err instanceof HttpCallError && err.timedOut);
}

/** The log line of a call that got no answer to use, by its errorCode (else: could not be reached). */
const failureLines: Record<string, string> = { malformedAnswer: 'BankID answered with something that cannot be read as an answer: refused' };

function errorFromResponse(status: number, text: string): BankIdApiError {
  try {
    const { errorCode, details } = JSON.parse(text) as { errorCode?: unknown; details?: unknown };
    if (typeof errorCode === 'string') return new BankIdApiError(status, errorCode, typeof details === 'string' ? details : '');
  } catch {
    // Not BankID's error format (a proxy's page, say): the status is all there is.
  }
  return new BankIdApiError(status, `http${status}`, '');
}
