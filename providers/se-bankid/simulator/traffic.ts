import { isJsonObject } from './requests.js';

/** What reached the RP API, so tests can check what the broker sent and how often. */
export class RequestLog {
  readonly #counts = new Map<string, number>();
  readonly #lastBodies = new Map<string, unknown>();

  /** `body` is the parsed JSON, or undefined when the request had none. */
  record(endpoint: string, body: unknown): void {
    const orderRef = isJsonObject(body) && typeof body.orderRef === 'string' ? body.orderRef : undefined;
    for (const key of [countKey(endpoint), ...(orderRef ? [countKey(endpoint, orderRef)] : [])]) {
      this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    }
    if (body !== undefined) this.#lastBodies.set(endpoint, body);
  }

  callCount(endpoint: string, orderRef?: string): number {
    return this.#counts.get(countKey(endpoint, orderRef)) ?? 0;
  }

  lastRequest(endpoint: string): unknown {
    return this.#lastBodies.get(endpoint);
  }
}

function countKey(endpoint: string, orderRef?: string): string {
  return orderRef ? `${endpoint} ${orderRef}` : endpoint;
}
