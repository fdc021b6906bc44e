import { CircuitOpenError, type EidTelemetry, type Logger } from '../../../src/eids/sdk.js';
import { createSecureContext } from 'node:tls';
import { Agent, request } from 'undici';
import { encodeRequest } from './encoding.js';
import type { MutualTls } from '../../shared/mutual-tls.js';
import { methods, type AuthResult, type FrejaMethod, type InitAuthRequest, type InitAuthResponse } from './types.js';

/**
 * Freja answered with an error, or could not be reached. `errorCode` is Freja's own numeric code
 * as a string (`1100`: unknown or expired authRef, …), or the broker's word for a call without
 * one: `unreachable`, `circuitOpen`, `http<status>`, `badAnswer` (not the JSON Freja sends, or
 * without what the method's answer must hold).
 */
export class FrejaApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    /** For `unreachable`: the call ran out of time (rather than finding nobody there). */
    readonly timedOut = false,
  ) {
    super(`Freja eID ${errorCode} (${status})`);
    this.name = 'FrejaApiError';
  }

  /**
   * Freja failing rather than refusing this request: no answer, a 5xx, or a 200 that is not
   * Freja's answer (a proxy's page, a cut-off body). Opens the circuit, and a login waiting on
   * its transaction asks again rather than ending.
   */
  get isOutage(): boolean {
    return this.status === 0 || this.status >= 500 || this.errorCode === 'badAnswer';
  }
}

/** How a failed call counts in the metrics and for the circuit breaker. */
export function classifyFrejaError(error: unknown): { reason: string; upstreamFailure: boolean } {
  if (error instanceof FrejaApiError) return { reason: error.timedOut ? 'timeout' : error.errorCode, upstreamFailure: error.isOutage };
  return { reason: 'error', upstreamFailure: false };
}

export interface FrejaClientOptions {
  /** The service API's base, e.g. https://services.test.frejaeid.com */
  url: string;
  tls: MutualTls;
  timeoutMs: number;
  log: Logger;
  telemetry: EidTelemetry;
  /** Sent with every request by integrating relying parties; absent for the others. */
  relyingPartyId?: string;
}

/** Connections to Freja one instance keeps at most; further calls queue for a free one. */
/**
 * The largest answer read from Freja: the broker asks for one result at a time, a few
 * kilobytes; a larger answer is a broken or hostile server's, refused before it fills the memory.
 */
const MAX_ANSWER_BYTES = 1024 * 1024;

const MAX_CONNECTIONS = 64;

/**
 * The authentication service of Freja's RP REST API over mutual TLS. Freja's server is trusted
 * through the pinned CA only, never the system store; one TLS context serves every connection.
 * Every call is time-boxed and goes through the eID's telemetry (metrics, circuit breaker).
 * Nothing is retried here: a login waiting on a result asks again at its next poll anyway.
 */
export class FrejaClient {
  readonly #options: FrejaClientOptions;
  readonly #agent: Agent;

  constructor(options: FrejaClientOptions) {
    this.#options = options;
    const { ca, cert, key, pfx, passphrase } = options.tls;
    // Built once: parsing the key and certificates per connection is most of a handshake's cost.
    const secureContext = createSecureContext({ ca, cert, key, pfx, passphrase, minVersion: 'TLSv1.2' });
    this.#agent = new Agent({ connect: { secureContext, rejectUnauthorized: true }, connections: MAX_CONNECTIONS, keepAliveTimeout: 30_000, maxResponseSize: MAX_ANSWER_BYTES });
  }

  initAuthentication(body: InitAuthRequest): Promise<InitAuthResponse> {
    return this.#call('start', body);
  }

  getOneResult(authRef: string): Promise<AuthResult> {
    return this.#call('result', { authRef });
  }

  async cancel(authRef: string): Promise<void> {
    await this.#call('cancel', { authRef });
  }

  /**
   * Resolves when the API answers at all: a GET, which Freja refuses (every method is a POST).
   * Needs the mutual TLS to work and changes nothing at Freja.
   */
  async probe(): Promise<void> {
    const { status } = await this.#send('GET', methods.result.path);
    if (status >= 500) throw new FrejaApiError(status, `http${status}`);
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  async #call<T>(method: FrejaMethod, body: object): Promise<T> {
    try {
      return await this.#options.telemetry.run(method, () => this.#post<T>(method, body), { classify: classifyFrejaError });
    } catch (err) {
      if (err instanceof CircuitOpenError) throw new FrejaApiError(0, 'circuitOpen');
      throw err;
    }
  }

  async #post<T>(method: FrejaMethod, body: object): Promise<T> {
    const { path, parameter } = methods[method];
    const { status, text } = await this.#send('POST', path, encodeRequest(parameter, body, this.#options.relyingPartyId));
    if (status === 200 || status === 204) return parseAnswer<T>(method, status, text || '{}');
    throw errorFromResponse(status, text);
  }

  async #send(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; text: string }> {
    const { url, timeoutMs, log } = this.#options;
    const started = performance.now();
    try {
      const response = await request(`${url}${path}`, {
        method,
        // As Freja's own client sends it; the body is not JSON itself but carries Base64 JSON.
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body }),
        dispatcher: this.#agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.body.text();
      log.debug({ path, status: response.statusCode, ms: Math.round(performance.now() - started) }, 'Freja eID call');
      return { status: response.statusCode, text };
    } catch (err) {
      const failed = failedCall(err);
      log.warn({ path, reason: (err as Error).message, ms: Math.round(performance.now() - started) }, failureLines[failed.errorCode] ?? 'Freja eID could not be reached');
      throw failed;
    }
  }
}

/**
 * A call that got no answer to use: `badAnswer` when one came but was over the size limit, as
 * for a 200 that is not Freja's; `unreachable` when none came.
 */
function failedCall(err: unknown): FrejaApiError {
  if ((err as { code?: string }).code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return new FrejaApiError(0, 'badAnswer');
  return new FrejaApiError(0, 'unreachable', isTimeout(err));
}

/** The log line of a call that got no answer to use, by its errorCode (else: could not be reached). */
const failureLines: Record<string, string> = { badAnswer: 'Freja eID answered with more than an answer can be: refused' };

function isTimeout(err: unknown): boolean {
  const { name, code } = err as { name?: string; code?: string };
  return name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/**
 * What each method's answer must hold before the login acts on it: a start without an authRef
 * would show the person a QR code of no transaction, which Freja can never complete.
 */
const answerFits: Record<FrejaMethod, (answer: Record<string, unknown>) => boolean> = {
  start: ({ authRef }) => typeof authRef === 'string' && authRef !== '',
  result: ({ status, details }) => typeof status === 'string' && (details === undefined || typeof details === 'string'),
  results: ({ authenticationResults }) => Array.isArray(authenticationResults),
  cancel: () => true,
};

function parseAnswer<T>(method: FrejaMethod, status: number, text: string): T {
  try {
    const answer: unknown = JSON.parse(text);
    if (answer !== null && typeof answer === 'object' && !Array.isArray(answer) && answerFits[method](answer as Record<string, unknown>)) return answer as T;
  } catch {
    // Falls through: not what Freja sends.
  }
  throw new FrejaApiError(status, 'badAnswer');
}

/** Freja's errors are `{code, message}` (on 400 and 422); anything else has only its status. */
function errorFromResponse(status: number, text: string): FrejaApiError {
  try {
    const { code } = JSON.parse(text) as { code?: unknown };
    if (typeof code === 'number' && Number.isInteger(code)) return new FrejaApiError(status, String(code));
  } catch {
    // Not Freja's error format (a proxy's page, say): the status is all there is.
  }
  return new FrejaApiError(status, `http${status}`);
}
