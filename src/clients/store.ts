import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Store } from '../store/store.js';
import { storeKey } from '../store/keys.js';

/** The longest a change of a client may hold it; a change that fails to let go (a crash) stops blocking others then. */
const CHANGE_LEASE_MS = 10_000;

/**
 * Where clients registered at runtime live — those created through the admin API and through
 * dynamic registration alike. It is oidc-provider's adapter for its Client model, so the
 * provider reads a client from the store on every request that names it: a change made on one
 * broker instance is seen by every other at once, with no cache in between. (oidc-provider
 * keeps parsed clients in a cache keyed by a hash of their metadata, so a changed record is
 * always parsed anew.)
 *
 * Keys:
 * - `oidc:Client:<id>`: the client's metadata (JSON), with no expiry;
 * - `clients:index`: the set of every client_id ever stored, for listing;
 * - `clients:used:<id>`: written once when an id is first taken, and kept after the client is
 *   deleted, so that an id is never given to a second client: tokens and registration access
 *   tokens of a deleted client can never reach a new one;
 * - `clients:changing:<id>`: held while the admin API changes the client (changeAlone).
 */
export class ClientStore implements Adapter {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  static readonly INDEX = storeKey('clientIndex');

  #key(id: string): string {
    return storeKey('oidcModel', 'Client', id);
  }

  /** Stores a client under a new id. False when the id is, or ever was, another client's. */
  async create(id: string, metadata: AdapterPayload): Promise<boolean> {
    if (!(await this.#store.setIfAbsent(storeKey('clientIdTaken', id), String(Date.now())))) return false;
    await this.upsert(id, metadata);
    return true;
  }

  /**
   * Runs `change` (read the client, write it back) while no other such change of client `id` runs,
   * on any instance; false, with nothing run, when one is under way. Two at once would each write
   * what they read with their own change on top, and the first one's would be lost: a secret
   * shown to its caller that no longer works.
   */
  async changeAlone(id: string, change: () => Promise<void>): Promise<boolean> {
    const lease = storeKey('clientChange', id);
    if (!(await this.#store.lease(lease, CHANGE_LEASE_MS))) return false;
    try {
      await change();
    } finally {
      await this.#store.delete(lease);
    }
    return true;
  }

  /** Every client_id ever stored, in order; deleted ones included (find() answers undefined for them). */
  async ids(): Promise<string[]> {
    return (await this.#store.members(ClientStore.INDEX)).sort();
  }

  // oidc-provider's Adapter. Dynamic registration writes through upsert with an id it generated.

  async upsert(id: string, payload: AdapterPayload): Promise<void> {
    await this.#store.setIfAbsent(storeKey('clientIdTaken', id), String(Date.now()));
    await this.#store.addToSet(ClientStore.INDEX, id);
    await this.#store.set(this.#key(id), JSON.stringify(payload));
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const record = await this.#store.get(this.#key(id));
    return record ? (JSON.parse(record.value) as AdapterPayload) : undefined;
  }

  async destroy(id: string): Promise<void> {
    await this.#store.delete(this.#key(id));
  }

  async findByUid(): Promise<undefined> {
    return undefined;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async consume(): Promise<void> {
    throw new Error('clients are never consumed');
  }

  async revokeByGrantId(): Promise<void> {}
}
