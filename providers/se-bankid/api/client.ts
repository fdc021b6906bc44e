import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { Logger } from '../../../src/log.js';
import type { BankIdTls } from '../config.js';
import type { AuthRequest, CollectResponse, OrderResponse, SignRequest } from './types.js';

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
  ) {
    super(`BankID ${errorCode} (${status})`);
    this.name = 'BankIdApiError';
  }
}

export interface BankIdClientOptions {
  /** The RP API's base, e.g. https://appapi2.test.bankid.com/rp/v6.0 */
  url: string;
  tls: BankIdTls;
  timeoutMs: number;
  log: Logger;
  /** Silent retries of a call answered with `maintenance`; BankID allows them, and no others. */
  maintenanceRetries?: number;
  maintenanceBackoffMs?: number;
}

/**
 * The RP API over mutual TLS. The server is trusted through the pinned BankID CA only, never
 * the system store. Every call has a time limit. Only `maintenance` is retried (a few times,
 * with backoff and jitter): BankID asks that requestTimeout and internalError are not retried
 * automatically, and the other errors cannot get better by trying again.
 */
export class BankIdClient {
  readonly #url: string;
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #maintenanceRetries: number;
  readonly #maintenanceBackoffMs: number;

  constructor(options: BankIdClientOptions) {
    this.#url = options.url;
    this.#timeoutMs = options.timeoutMs;
    this.#log = options.log;
    this.#maintenanceRetries = options.maintenanceRetries ?? 2;
    this.#maintenanceBackoffMs = options.maintenanceBackoffMs ?? 250;
    const { ca, cert, key, pfx, passphrase } = options.tls;
    this.#agent = new Agent({
      connect: { ca, cert, key, pfx, passphrase, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
      keepAliveTimeout: 30_000,
    });
  }

  auth(body: AuthRequest): Promise<OrderResponse> {
    return this.#call('auth', body);
  }

  sign(body: SignRequest): Promise<OrderResponse> {
    return this.#call('sign', body);
  }

  collect(orderRef: string): Promise<CollectResponse> {
    return this.#call('collect', { orderRef });
  }

  async cancel(orderRef: string): Promise<void> {
    await this.#call('cancel', { orderRef });
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  async #call<T>(endpoint: string, body: object): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#post<T>(endpoint, body);
      } catch (err) {
        const retry = err instanceof BankIdApiError && err.errorCode === 'maintenance' && attempt < this.#maintenanceRetries;
        if (!retry) throw err;
        const delay = this.#maintenanceBackoffMs * 2 ** attempt * (0.5 + Math.random());
        this.#log.warn({ endpoint, attempt: attempt + 1, delay: Math.round(delay) }, 'BankID is in maintenance; retrying');
        await sleep(delay);
      }
    }
  }

  async #post<T>(endpoint: string, body: object): Promise<T> {
    const started = performance.now();
    let status: number;
    let text: string;
    try {
      const response = await request(`${this.#url}/${endpoint}`, {
        method: 'POST',
        // Exactly this: BankID answers 415 to application/json with a charset.
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        dispatcher: this.#agent,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (err) {
      this.#log.warn({ endpoint, err: (err as Error).message, ms: Math.round(performance.now() - started) }, 'BankID could not be reached');
      throw new BankIdApiError(0, 'unreachable', (err as Error).message);
    }
    this.#log.debug({ endpoint, status, ms: Math.round(performance.now() - started) }, 'BankID call');
    if (status === 200) return JSON.parse(text) as T;
    throw errorFromResponse(status, text);
  }
}

function errorFromResponse(status: number, text: string): BankIdApiError {
  try {
    const { errorCode, details } = JSON.parse(text) as { errorCode?: unknown; details?: unknown };
    if (typeof errorCode === 'string') return new BankIdApiError(status, errorCode, typeof details === 'string' ? details : '');
  } catch {
    // Not BankID's error format (a proxy's page, say): the status is all there is.
  }
  return new BankIdApiError(status, `http${status}`, '');
}
