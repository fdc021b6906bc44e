import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { createMemoryStore } from '../store/memory-store.js';
import type { Store } from '../store/store.js';
import type { Redemptions } from './redemptions.js';
import { storeKey } from '../store/keys.js';

/**
 * Losing a consume race means the artifact was already used. A second use of a code or a
 * refresh token is an invalid_grant; of a pushed request_uri, an invalid_request.
 */
const alreadyUsed: Record<string, () => Error> = {
  PushedAuthorizationRequest: () => new errors.InvalidRequest('request_uri has already been used'),
};
const alreadyUsedDefault = (model: string) => () => new errors.InvalidGrant(`${model} has already been used`);

/**
 * Models whose destroy ends their one use. oidc-provider resumes a finished login by finding its
 * Interaction, then destroying it; parallel resumes of one login (a double click, a browser
 * retrying) all pass the find, and each would issue a code of its own. The record is consumed
 * first, atomically: one resume goes on, the others fail as a resume after it does.
 */
const usedUpByDestroy: Record<string, () => Error> = {
  Interaction: () => new errors.SessionNotFound('interaction session not found'),
};

/**
 * Seconds a model's record is kept after it expires, so that a late use meets the expired record
 * (oidc-provider's own answer to it) rather than none. A CIBA request the client polls just after
 * it ran out answers expired_token (CIBA §11), not invalid_grant as for an auth_req_id that never was.
 */
const keptAfterExpiry: Record<string, number> = { BackchannelAuthenticationRequest: 300 };

/** Models that are also found by a second key: the payload field that holds it. */
const secondaryKeys: Record<string, 'uid' | 'userCode'> = { Session: 'uid', DeviceCode: 'userCode' };

/**
 * oidc-provider's storage for every model, on the broker's Store.
 *
 * Keys: `oidc:<Model>:<id>` for records, `oidc:grant:<grantId>` for the set of keys issued
 * under a grant (so revokeByGrantId finds them), `oidc:<Model>:uid:<uid>` and
 * `oidc:<Model>:userCode:<code>` for the secondary lookups. Index keys are written before the record
 * they point at, so a crash in between leaves a dangling index entry, never an unrevocable token.
 */
export class StoreAdapter implements Adapter {
  readonly #model: string;
  readonly #store: Store;
  readonly #redemptions: Redemptions | undefined;
  readonly #found: ((payload: AdapterPayload) => void) | undefined;

  /**
   * `redemptions` remembers each consume for the token request that made it (see Redemptions);
   * `found` is told of each record found by its id, to start reading what goes with it.
   */
  constructor(model: string, store: Store, redemptions?: Redemptions, found?: (payload: AdapterPayload) => void) {
    this.#model = model;
    this.#store = store;
    this.#redemptions = redemptions;
    this.#found = found;
  }

  #key(id: string): string {
    return storeKey('oidcModel', this.#model, id);
  }

  /** The key of the secondary lookup of this payload, when its model has one. */
  #secondaryKey(payload: AdapterPayload | undefined): string | undefined {
    const field = secondaryKeys[this.#model];
    const value = field && payload?.[field];
    return value ? this.#key(`${field}:${value}`) : undefined;
  }

  async upsert(id: string, payload: AdapterPayload, lifetime?: number): Promise<void> {
    const key = this.#key(id);
    const expiresIn = lifetime === undefined ? undefined : lifetime + (keptAfterExpiry[this.#model] ?? 0);
    if (payload.grantId) await this.#store.addToSet(storeKey('grantIndex', payload.grantId), key, expiresIn);
    const secondaryKey = this.#secondaryKey(payload);
    if (secondaryKey) await this.#store.set(secondaryKey, id, expiresIn);
    await this.#store.set(key, JSON.stringify(payload), expiresIn);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const record = await this.#store.get(this.#key(id));
    if (!record) return undefined;
    const payload = JSON.parse(record.value) as AdapterPayload;
    this.#found?.(payload);
    return record.consumedAt === undefined ? payload : { ...payload, consumed: record.consumedAt };
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findBySecondaryKey(this.#key(`uid:${uid}`));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findBySecondaryKey(this.#key(`userCode:${userCode}`));
  }

  async #findBySecondaryKey(key: string): Promise<AdapterPayload | undefined> {
    const pointer = await this.#store.get(key);
    return pointer ? this.find(pointer.value) : undefined;
  }

  /**
   * oidc-provider reads an artifact, sees it unused, then consumes it; two parallel requests
   * can both pass the read. The store's consume is atomic, so exactly one of them gets through.
   * The others are a reuse, treated as oidc-provider treats a reuse it sees in its read: the
   * grant is revoked, with every token issued under it — the winner's too, even those it saves
   * after this, since they then point at a grant that is gone.
   */
  async consume(id: string): Promise<void> {
    const key = this.#key(id);
    const result = await this.#store.consume(key, Math.floor(Date.now() / 1000), this.#redemptions?.claim(key));
    if (result === 'consumed') return;
    if (result === 'already') await this.#revokeGrantOf(id);
    throw (alreadyUsed[this.#model] ?? alreadyUsedDefault(this.#model))();
  }

  async #revokeGrantOf(id: string): Promise<void> {
    const grantId = (await this.find(id))?.grantId;
    if (typeof grantId === 'string') await this.revokeGrant(grantId);
  }

  /**
   * Every token and code issued under a grant, whatever its model (they share the grant's
   * index), and the grant itself: what oidc-provider's revocation of a grant removes.
   */
  async revokeGrant(grantId: string): Promise<void> {
    await this.revokeByGrantId(grantId);
    await this.#store.delete(storeKey('oidcModel', 'Grant', grantId));
  }

  async destroy(id: string): Promise<void> {
    const usedUp = usedUpByDestroy[this.#model];
    if (usedUp && (await this.#store.consume(this.#key(id), Math.floor(Date.now() / 1000))) !== 'consumed') throw usedUp();
    const secondaryKey = this.#secondaryKey(secondaryKeys[this.#model] ? await this.find(id) : undefined);
    await this.#store.delete(this.#key(id), ...(secondaryKey ? [secondaryKey] : []));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = storeKey('grantIndex', grantId);
    const keys = await this.#store.members(grantKey);
    await this.#store.delete(...keys, grantKey);
  }
}

/**
 * oidc-provider's `adapter` on a store of its own in memory: for a provider that lives in one
 * process and keeps nothing (a simulated upstream eID).
 */
export function memoryAdapter(): { adapter: (model: string) => Adapter; close(): Promise<void> } {
  const store = createMemoryStore();
  return { adapter: (model) => new StoreAdapter(model, store), close: () => store.close() };
}
