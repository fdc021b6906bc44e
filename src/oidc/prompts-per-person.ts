import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { BrokerConfig } from '../config/schema.js';
import type { Metrics } from '../metrics/metrics.js';
import { clientKeyPart } from '../resilience/rate-limit.js';
import type { Store } from '../store/store.js';
import { storeKey } from '../store/keys.js';

/** "10 minutes", "1 minute", "45 seconds": a wait in words for an error_description. */
function inWords(seconds: number): string {
  const [amount, unit] = seconds >= 120 ? [Math.ceil(seconds / 60), 'minute'] : [seconds, 'second'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}

/**
 * CIBA §13 access_denied, answered with 403 as the spec has it (oidc-provider's own is a 400):
 * the OpenID Provider denies the request on the person's behalf.
 */
function deniedForThePerson(description: string): errors.AccessDenied {
  return Object.assign(new errors.AccessDenied(description), { status: 403, statusCode: 403 });
}

/**
 * How many CIBA requests one client may send for one person in a window
 * (`ciba.per_person`). Each request the broker takes puts a prompt on the person's phone: without
 * a bound per person, a client (or whoever holds its secret) could send hundreds a minute to one
 * phone, within its own rate limit, until the person gives in and confirms one (push bombing).
 *
 * Counted in the store, so the bound holds across instances, under the client and the person's
 * sub for the eID: a keyed hash of the personal number (subject.ts), the name the person's
 * account has in the store already, so no key holds the number. A fixed window from the first
 * request counted; requests over the bound are counted too, which never lengthens the window.
 * One round trip per request that passed every other check, on an endpoint that goes on to make
 * an order at the eID.
 */
export class PromptsPerPerson {
  readonly #store: Store;
  readonly #settings: BrokerConfig['ciba']['per_person'];
  readonly #metrics: Metrics;

  constructor(store: Store, settings: BrokerConfig['ciba']['per_person'], metrics: Metrics) {
    this.#store = store;
    this.#settings = settings;
    this.#metrics = metrics;
  }

  /** Counts a request of `clientId` for the person whose sub is `sub`; throws access_denied when it is one too many. */
  async count(ctx: KoaContextWithOIDC, clientId: string, sub: string): Promise<void> {
    const { requests, window_seconds: windowSeconds } = this.#settings;
    const key = storeKey('backchannelPerPerson', clientKeyPart(clientId), sub);
    const { count, ttlMs } = await this.#store.increment(key, windowSeconds, 1, requests);
    if (count <= requests) return;
    this.#metrics.rateLimited.inc({ limit: 'backchannel', by: 'person' });
    const retryAfter = Math.max(1, Math.ceil((ttlMs ?? windowSeconds * 1000) / 1000));
    ctx.set('Retry-After', String(retryAfter));
    throw deniedForThePerson(
      `this client has asked this person ${requests} times within ${inWords(windowSeconds)} already, the most a person is asked (ciba.per_person), so that their phone is not flooded with prompts: try again in ${inWords(retryAfter)}, or ask the person to log in another way`,
    );
  }
}
