import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Logger } from '../log.js';
import { releaseWhileUnavailable } from '../store/retry.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import { currentRequest } from './current-request.js';

interface Claim {
  key: string;
  claim: string;
}

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
    // The first try is sent at once on the connection of the consume, which is what orders it
    // after that consume; a connection that dropped meanwhile takes it again once it is back.
    for (const { key, claim } of this.#claims.get(request) ?? []) releaseWhileUnavailable(this.#store, key, claim, this.#log);
    this.#claims.delete(request);
  }
}
