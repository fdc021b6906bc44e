import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';

/** How long a fetched key set serves before it is fetched again: oauth4webapi's own cache age. */
const MAX_AGE_MS = 5 * 60_000;

/**
 * The least time between two fetches of an upstream's keys that tokens no key verifies cause.
 * One fetch learns a rotation, and the login that met it is checked again against it. A token
 * whose key is still missing after that is forged or broken, and more of them (random key ids
 * cost an attacker nothing) make at most one GET of the upstream's JWKS per 5 seconds per broker
 * instance: nothing next to what its other relying parties ask of it. The price: an upstream
 * that rotates again within 5 seconds of such a fetch fails the logins of those seconds.
 */
export const KEY_REFETCH_INTERVAL_MS = 5_000;

/** jose's errors of a signature no key of the set verifies: no key with the token's kid, or a key whose material changed. */
const STALE_KEY_CODES: ReadonlySet<string> = new Set(['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED']);

const isStaleKeyError = (error: unknown) => STALE_KEY_CODES.has(String((error as { code?: unknown }).code));

interface KeySet {
  keys: ReturnType<typeof createLocalJWKSet>;
  fetchedAt: number;
}

/**
 * An upstream's signing keys (its JWKS), for the signatures of its ID tokens and signed userinfo.
 * Fetched on first use and again when five minutes old; when a token's signature fails because
 * no key has its kid or its key does not verify it — right after the upstream rotated its keys —
 * they are fetched again at once and the same token checked once more. Such fetches are shared
 * by the tokens failing at the same time and happen at most once per KEY_REFETCH_INTERVAL_MS.
 */
export class UpstreamSigningKeys {
  readonly #read: () => Promise<JSONWebKeySet>;
  readonly #algorithm: string;
  #current: KeySet | undefined;
  #pending: Promise<KeySet> | undefined;
  #refetchedAt = Number.NEGATIVE_INFINITY;

  /** `read` fetches the upstream's JWKS (its body capped, in the time limit of every upstream call). */
  constructor(read: () => Promise<JSONWebKeySet>, algorithm: string) {
    this.#read = read;
    this.#algorithm = algorithm;
  }

  /** Resolves when one of the upstream's keys verifies the signature of `jws` with the configured algorithm. */
  async verify(jws: string): Promise<void> {
    const used = await this.#fresh();
    try {
      await compactVerify(jws, used.keys, { algorithms: [this.#algorithm] });
    } catch (err) {
      const newer = isStaleKeyError(err) ? await this.#refetched(used) : used;
      if (newer === used) throw err;
      await compactVerify(jws, newer.keys, { algorithms: [this.#algorithm] });
    }
  }

  /** The keys, fetched when there are none yet or they are too old. */
  #fresh(): Promise<KeySet> {
    if (this.#current && Date.now() - this.#current.fetchedAt < MAX_AGE_MS) return Promise.resolve(this.#current);
    return this.#fetch();
  }

  /**
   * Newer keys than `used`, which failed a signature: those another token already fetched, or
   * fetched now unless the last such fetch is younger than KEY_REFETCH_INTERVAL_MS (then `used`).
   */
  #refetched(used: KeySet): Promise<KeySet> {
    if (this.#pending) return this.#pending;
    if (this.#current && this.#current !== used) return Promise.resolve(this.#current);
    if (Date.now() - this.#refetchedAt < KEY_REFETCH_INTERVAL_MS) return Promise.resolve(used);
    this.#refetchedAt = Date.now();
    return this.#fetch();
  }

  /**
   * One fetch at a time, shared by whoever needs the keys meanwhile. A fetch that failed holds
   * off no other: the next token fetches again, and fails as the upstream being unreachable
   * (which the circuit breaker counts), not as a signature no key verifies.
   */
  #fetch(): Promise<KeySet> {
    this.#pending ??= this.#read()
      .then((jwks) => (this.#current = { keys: createLocalJWKSet(jwks), fetchedAt: Date.now() }))
      .catch((err: unknown) => {
        this.#refetchedAt = Number.NEGATIVE_INFINITY;
        throw err;
      })
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }
}
