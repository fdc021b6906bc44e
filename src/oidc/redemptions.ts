import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Logger } from '../log.js';
import { whileUnavailable } from '../store/retry.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import { currentRequest } from './current-request.js';

interface Claim {
  key: string;
  claim: string;
}

/**
 * How long a release the store could not take is tried again: a connection that dropped after
 * the consume ran takes the release with it, and the client's retry (after Retry-After: 1) must
 * find the code given back once the store is back. A code lives a minute.
 */
const RELEASE_TRIED_FOR_MS = 60_000;

/**
 * The codes and refresh tokens each token request consumed, so that a request the store failed
 * gives them back. A consume whose answer timed out may still have run in Redis a moment later;
 * without this, the client's retry of the very same redemption would meet a used code and be
 * treated as a replay (invalid_grant, the login revoked). Releasing is safe because a release
 * names the claim of its own consume: it never undoes another request's.
 */
export class Redemptions {
  readonly #store: Store;
  readonly #log: Logger;
  /** Per request (oidc-provider's context): what it consumed. */
  readonly #claims = new WeakMap<object, Claim[]>();

  constructor(store: Store, log: Logger) {
    this.#store = store;
    this.#log = log;
  }

  /** A claim for consuming `key`, remembered for the request being served, if any. */
  claim(key: string): string {
    const claim = randomUUID();
    const request = currentRequest();
    if (request) this.#claims.set(request, [...(this.#claims.get(request) ?? []), { key, claim }]);
    return claim;
  }

  /** Releases what a token request consumed when it ends because the store did not answer. */
  watch(provider: Provider): void {
    provider.on('grant.error', (ctx, error) => {
      if (error instanceof StoreUnavailableError) this.#release(ctx);
    });
  }

  #release(request: object): void {
    for (const { key, claim } of this.#claims.get(request) ?? []) {
      // Not awaited: the first try is sent at once on the connection of the consume, which is
      // what orders it after that consume; its answer may be as late as the consume's.
      whileUnavailable(() => this.#store.release(key, claim), RELEASE_TRIED_FOR_MS).catch((error: unknown) => {
        this.#log.warn({ reason: error instanceof Error ? error.message : String(error) }, 'a consumed code or refresh token could not be released');
      });
    }
    this.#claims.delete(request);
  }
}
