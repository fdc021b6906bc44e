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
 * The codes and refresh tokens each token request consumed, and the finished login each resume
 * (`/auth/<uid>`) consumed, so that a request the store failed gives them back. A consume whose
 * answer timed out may still have run in Redis a moment later; without this, the client's retry
 * of the very same redemption would meet a used code and be treated as a replay (invalid_grant,
 * the login revoked), and the browser's Try again of a resume would find its login over after
 * the person had identified. Releasing is safe because a release names the claim of its own
 * consume: it never undoes another request's.
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

  /**
   * Releases what a token request or a resume consumed when it ends because the store did not
   * answer: in an endpoint (its error event), or in a step of the broker's after it (remembering
   * a login's grant for its logout), whose error leaves oidc-provider's app. Called before those
   * steps are added, so that it wraps them.
   */
  watch(provider: Provider): void {
    const releaseOnStoreFailure = (ctx: object, error: unknown) => {
      if (error instanceof StoreUnavailableError) this.#release(ctx);
    };
    provider.on('grant.error', releaseOnStoreFailure);
    provider.on('authorization.error', releaseOnStoreFailure);
    provider.use((ctx, next) =>
      next().catch((error: unknown) => {
        releaseOnStoreFailure(ctx, error);
        throw error;
      }),
    );
  }

  #release(request: object): void {
    // The first try is sent at once on the connection of the consume, which is what orders it
    // after that consume; a connection that dropped meanwhile takes it again once it is back.
    for (const { key, claim } of this.#claims.get(request) ?? []) releaseWhileUnavailable(this.#store, key, claim, this.#log);
    this.#claims.delete(request);
  }
}
