import type { Store } from '../../src/eids/sdk.js';

/**
 * The one record an eID keeps per login while the person is at the eID (a BankID order, a
 * Freja eID transaction), by interaction: `<kind>:<uid>`, plus `lease:<reference>`, the right
 * to ask the eID about it now, which one instance at a time holds for a poll interval. Every
 * key expires: a login whose browser went away leaves nothing behind. A change is announced on
 * `<kind>s`, for the instances whose pages wait on that login. Keys and channel are in the
 * plugin's namespace of the store (the core adds `<id>:`), so two eIDs never share one.
 */
export class LoginRecords<T> {
  readonly #prefix: string;
  readonly #channel: string;
  readonly #leasePrefix: string;

  constructor(
    protected readonly store: Store,
    kind: string,
    private readonly settings: { ttlSeconds: number; pollFrequencySeconds: number },
  ) {
    this.#prefix = `${kind}:`;
    this.#channel = `${kind}s`;
    this.#leasePrefix = 'lease:';
  }

  async get(uid: string): Promise<T | undefined> {
    const record = await this.store.get(this.#prefix + uid);
    return record ? (JSON.parse(record.value) as T) : undefined;
  }

  /** Saves a changed record and tells every instance. */
  async save(uid: string, record: T): Promise<void> {
    await this.store.set(this.#prefix + uid, JSON.stringify(record), this.settings.ttlSeconds);
    await this.#announce(uid);
  }

  /**
   * Makes `record` the login's and returns the one it replaced, if any. Two starts of one login
   * racing each other both succeed here, and each learns which record it pushed out.
   */
  async replace(uid: string, record: T): Promise<T | undefined> {
    const earlier = await this.store.replace(this.#prefix + uid, JSON.stringify(record), this.settings.ttlSeconds);
    await this.#announce(uid);
    return earlier === undefined ? undefined : (JSON.parse(earlier) as T);
  }

  async remove(uid: string): Promise<void> {
    await this.store.delete(this.#prefix + uid);
    await this.#announce(uid);
  }

  /**
   * True when the caller may ask the eID about `reference` now: no one, on any instance, has
   * within the poll interval. Never released: it lapses, which is both the pace of requests and
   * how soon a dead instance's lease stops counting.
   */
  lease(reference: string): Promise<boolean> {
    return this.store.lease(this.#leasePrefix + reference, this.settings.pollFrequencySeconds * 1000);
  }

  /** Calls `onChange` with the uid of every login whose record changes, on any instance. */
  watchChanges(onChange: (uid: string) => void): Promise<() => Promise<void>> {
    return this.store.subscribe(this.#channel, onChange);
  }

  #announce(uid: string): Promise<void> {
    return this.store.publish(this.#channel, uid);
  }
}
