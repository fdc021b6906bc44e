import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { createMemoryStore } from '../store/memory-store.js';
import type { ConsumeResult, Store, StoredRecord } from '../store/store.js';
import type { Redemptions } from './redemptions.js';
import { storeKey } from '../store/keys.js';
import { KeyNames, type FormerKeyNames } from '../store/key-names.js';
import { randomBytes } from 'node:crypto';

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
 * first, atomically: one resume goes on, the others fail as a resume after it does. It is then
 * found by no one, and left to expire rather than deleted: a resume that fails on the store
 * after it (the session, the grant, the code not written) gives its consume back (Redemptions),
 * and the browser's Try again finds the login as it was, not over.
 */
const usedUpByDestroy: Record<string, () => Error> = {
  Interaction: () => new errors.SessionNotFound('interaction session not found'),
};

/** Models that are also found by a second key: the payload field that holds it. */
const secondaryKeys: Record<string, 'uid' | 'userCode'> = { Session: 'uid', DeviceCode: 'userCode' };

/**
 * Models whose id is a credential: whoever holds it uses it (a token, a code, the session
 * cookie's value, a request_uri, an auth_req_id). Their keys name a hash of the id (KeyNames),
 * and their records keep no copy of it (oidc-provider's `jti`, given back on a read). A Grant's,
 * an Interaction's or a ReplayDetection's id lets nobody in, and stays as it is.
 */
const credentialModels = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest',
  'RegistrationAccessToken',
  'InitialAccessToken',
  'Session',
]);

/** The secondary lookups whose value is a credential too (a device flow's user code). */
const credentialSecondaryKeys = new Set(['userCode']);

/**
 * A session record that a login ending at the same moment in the same browser, for the same
 * person, joined into its own: the id of the record that now holds them both.
 */
interface JoinedSession {
  joinedInto: string;
}

/** How many joins a read follows: each is one more login that ended at the same moment. */
const MOST_JOINS_FOLLOWED = 8;
/** How long one join may keep the others of its browser session waiting. */
const JOIN_LEASE_MS = 5_000;
const JOIN_RETRY_MS = 10;

function isJoined(record: AdapterPayload | JoinedSession): record is JoinedSession {
  return typeof (record as Partial<JoinedSession>).joinedInto === 'string';
}

/** What a model's adapter does besides keeping its records (see StoreAdapter's constructor). */
export interface AdapterOptions {
  redemptions?: Redemptions | undefined;
  found?: ((payload: AdapterPayload) => void) | undefined;
  keptAfterExpiry?: number | undefined;
  formerKeys?: FormerKeyNames | undefined;
}

/**
 * oidc-provider's storage for every model, on the broker's Store.
 *
 * Keys: `oidc:<Model>:<id>` for records, `oidc:grant:<grantId>` for the set of keys issued
 * under a grant (so revokeByGrantId finds them), `oidc:<Model>:uid:<uid>` and
 * `oidc:<Model>:userCode:<code>` for the secondary lookups. Index keys are written before the record
 * they point at, so a crash in between leaves a dangling index entry, never an unrevocable token.
 * Where the id (or the user code) is a credential (credentialModels), the key holds its hash in
 * its place, and the record no copy of it: a copy of the store names no token anyone could use.
 *
 * A session is the exception: oidc-provider reads it when a login returns and writes it whole, under
 * a new id, when the login ends, so two logins of one browser ending at once would each write a
 * version without the other's client, and the browser keeps the cookie of one. Its uid is the same
 * in both (browser-sessions.ts makes it so for a browser's first logins too), so each version is
 * written before its uid's index, and the index is replaced in one step that tells which version
 * it pointed at: the version whose write replaced another one still there joins them (#join).
 */
export class StoreAdapter implements Adapter {
  readonly #model: string;
  readonly #store: Store;
  readonly #redemptions: Redemptions | undefined;
  readonly #found: ((payload: AdapterPayload) => void) | undefined;
  readonly #keptAfterExpiry: number;
  readonly #names: KeyNames | undefined;
  readonly #formerKeys: FormerKeyNames | undefined;

  /**
   * `names` hashes the ids of the models whose ids are credentials; without it every id is its
   * key as it is, as in bare oidc-provider's own adapters (the bench's reference). Options:
   * `redemptions` remembers each consume for the token request that made it (see Redemptions);
   * `found` is told of each record found by its id, to start reading what goes with it;
   * `keptAfterExpiry` is how many seconds a record stays in the store after it expires, for what
   * a late use must still meet (see keptAfterExpiry in provider.ts); `formerKeys` says while a
   * record of a broker before hashed key names may still be alive (#formerKey); without it, none is looked for.
   */
  constructor(model: string, store: Store, names: KeyNames | undefined, options: AdapterOptions = {}) {
    this.#model = model;
    this.#names = credentialModels.has(model) ? names : undefined;
    this.#store = store;
    this.#redemptions = options.redemptions;
    this.#found = options.found;
    this.#keptAfterExpiry = options.keptAfterExpiry ?? 0;
    this.#formerKeys = options.formerKeys;
  }

  #key(id: string): string {
    return storeKey('oidcModel', this.#model, this.#names ? this.#names.of(id) : id);
  }

  /**
   * Where a broker before hashed key names kept the record of a credential: its records are read
   * (and removed) there, only when the hashed key has none, for as long as one of them may still
   * be alive (FormerKeyNames); undefined after that.
   */
  #formerKey(id: string): string | undefined {
    return this.#names && this.#formerKeys?.alive(this.#model) ? storeKey('oidcModel', this.#model, id) : undefined;
  }

  /** The key of a secondary lookup by `field`. */
  #lookupKey(field: string, value: string): string {
    const named = this.#names && credentialSecondaryKeys.has(field) ? this.#names.of(value) : value;
    return storeKey('oidcModel', this.#model, `${field}:${named}`);
  }

  /** The key of the secondary lookup of this payload, when its model has one. */
  #secondaryKey(payload: AdapterPayload | undefined): string | undefined {
    const field = secondaryKeys[this.#model];
    const value = field && payload?.[field];
    return value ? this.#lookupKey(field, String(value)) : undefined;
  }

  /** The record as stored: without its id (oidc-provider's jti), when the id is a credential. */
  #stored(payload: AdapterPayload | JoinedSession): string {
    return JSON.stringify(this.#names ? { ...payload, jti: undefined } : payload);
  }

  /** The record at `id`: at its hashed key, else (a record of a broker before them) at its former one. */
  async #get(id: string): Promise<StoredRecord | undefined> {
    const record = await this.#store.get(this.#key(id));
    const formerKey = record ? undefined : this.#formerKey(id);
    return formerKey ? this.#store.get(formerKey) : record;
  }

  async upsert(id: string, payload: AdapterPayload, lifetime?: number): Promise<void> {
    const key = this.#key(id);
    const expiresIn = this.#expiresIn(payload, lifetime);
    if (payload.grantId) await this.#store.addToSet(storeKey('grantIndex', payload.grantId), key, expiresIn);
    const secondaryKey = this.#secondaryKey(payload);
    if (this.#model === 'Session' && secondaryKey) return this.#upsertSession(id, payload, secondaryKey, expiresIn);
    if (secondaryKey) await this.#store.set(secondaryKey, id, expiresIn);
    await this.#store.set(key, this.#stored(payload), expiresIn);
  }

  /**
   * How long the store keeps a record: until its `exp` by the store's clock, which every instance
   * shares, then keptAfterExpiry. oidc-provider counts `lifetime` from its host's clock, so an
   * instance whose clock ran 20 s ahead saved a record 20 s short of its expiry, or with no time
   * left at all: the CIBA request it recorded the person's approval in was gone before the
   * client's poll. At least a second, as a record saved in its last second asks for none.
   */
  #expiresIn(payload: AdapterPayload, lifetime: number | undefined): number | undefined {
    if (lifetime === undefined) return undefined;
    const remaining = typeof payload.exp === 'number' ? payload.exp - Math.floor(this.#store.now() / 1000) : lifetime;
    return Math.max(remaining, 1) + this.#keptAfterExpiry;
  }

  /**
   * A session version, then its uid's index. The index pointed at the version this one replaces
   * (gone already: oidc-provider destroys it first) or at one written meanwhile by another login
   * of the browser, which is joined with this one. The normal login pays one read for it, of
   * the replaced version, and saves the read of the session that its destroy made before.
   */
  async #upsertSession(id: string, payload: AdapterPayload, uidKey: string, expiresIn: number | undefined): Promise<void> {
    await this.#store.set(this.#key(id), this.#stored(payload), expiresIn);
    const replaced = await this.#store.replace(uidKey, id, expiresIn);
    if (replaced && replaced !== id && (await this.#get(replaced))) await this.#join(String(payload.uid), uidKey, [replaced, id]);
  }

  /**
   * Joins the versions of one browser session that logins ending at the same moment wrote: the
   * clients of each are added to the latest (the one the uid's index names), and each other
   * version becomes a pointer to it, so that whichever cookie the browser kept reads the session
   * with every client. Only versions of the same person are joined; another person's login
   * replaces the session as a later login does, and leaves the earlier person's version (and its
   * clients) out of it. Joins of one session take turns, so that none writes over another's.
   */
  async #join(uid: string, uidKey: string, versions: string[]): Promise<void> {
    const lease = storeKey('sessionJoin', uid);
    while (!(await this.#store.lease(lease, JOIN_LEASE_MS))) await new Promise((resolve) => setTimeout(resolve, JOIN_RETRY_MS));
    try {
      const latestId = (await this.#store.get(uidKey))?.value;
      const latest = latestId ? await this.#readOwn(latestId) : undefined;
      if (!latestId || !latest || isJoined(latest) || typeof latest.accountId !== 'string') return;
      const joined: string[] = [];
      for (const id of versions.filter((version) => version !== latestId)) {
        const version = await this.#readOwn(id);
        if (!version || isJoined(version) || version.accountId !== latest.accountId) continue;
        latest.authorizations = { ...(version.authorizations as object), ...(latest.authorizations as object) };
        joined.push(id);
      }
      if (!joined.length) return;
      const expiresIn = typeof latest.exp === 'number' ? Math.max(1, latest.exp - Math.floor(Date.now() / 1000)) : undefined;
      await this.#store.set(this.#key(latestId), this.#stored(latest), expiresIn);
      const pointer: JoinedSession = { joinedInto: latestId };
      for (const id of joined) await this.#store.set(this.#key(id), this.#stored(pointer), expiresIn);
    } finally {
      await this.#store.delete(lease);
    }
  }

  /** The record at `id` as written, a session joined into another included. */
  async #readOwn(id: string): Promise<AdapterPayload | JoinedSession | undefined> {
    const record = await this.#get(id);
    return record ? (JSON.parse(record.value) as AdapterPayload | JoinedSession) : undefined;
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    let recordId = id;
    let record = await this.#get(recordId);
    for (let joins = 0; record && joins < MOST_JOINS_FOLLOWED; joins += 1) {
      const stored = JSON.parse(record.value) as AdapterPayload | JoinedSession;
      if (isJoined(stored)) {
        recordId = stored.joinedInto;
        record = await this.#get(recordId);
        continue;
      }
      if (record.consumedAt !== undefined && usedUpByDestroy[this.#model]) return undefined;
      const payload = this.#names ? { ...stored, jti: recordId } : stored;
      this.#found?.(payload);
      return record.consumedAt === undefined ? payload : { ...payload, consumed: record.consumedAt };
    }
    return undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findBySecondaryKey(this.#lookupKey('uid', uid));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findBySecondaryKey(this.#lookupKey('userCode', userCode));
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
    const formerKey = this.#formerKey(id);
    let result = await this.#consumeAt(this.#key(id));
    if (result === 'missing' && formerKey) result = await this.#consumeAt(formerKey);
    if (result === 'consumed') return;
    if (result === 'already') await this.#revokeGrantOf(id);
    throw (alreadyUsed[this.#model] ?? alreadyUsedDefault(this.#model))();
  }

  #consumeAt(key: string): Promise<ConsumeResult> {
    return this.#store.consume(key, Math.floor(Date.now() / 1000), this.#redemptions?.claim(key));
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
    if (usedUp) {
      const key = this.#key(id);
      // With a claim, which a resume that then fails on the store gives back (see Redemptions).
      if ((await this.#store.consume(key, Math.floor(Date.now() / 1000), this.#redemptions?.claim(key))) !== 'consumed') throw usedUp();
      return;
    }
    // A session's uid index is left to point at nothing: the next version of the session replaces it.
    const secondaryKey = this.#secondaryKey(secondaryKeys[this.#model] && this.#model !== 'Session' ? await this.find(id) : undefined);
    const formerKey = this.#formerKey(id);
    await this.#store.delete(this.#key(id), ...(formerKey ? [formerKey] : []), ...(secondaryKey ? [secondaryKey] : []));
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
  // Its records live as long as the process: a key of its own hashes their ids.
  const names = new KeyNames(randomBytes(32).toString('base64url'));
  return { adapter: (model) => new StoreAdapter(model, store, names), close: () => store.close() };
}
