import type { FindAccount } from 'oidc-provider';
import type { Identity } from '../identity/identity.js';
import type { Store, StoredRecord } from '../store/store.js';
import { identityClaims } from './claims.js';
import type { Subjects } from './subject.js';
import { storeKey } from '../store/keys.js';

/**
 * The people who logged in, by sub. An identity is kept as long as a refresh token issued
 * from that login can live, so userinfo and refreshed ID tokens still have it; each new login
 * replaces it with the latest one.
 */
export class Accounts {
  readonly #store: Store;
  readonly #subjects: Subjects;
  readonly #ttlSeconds: number;
  /** Accounts read ahead, per request (oidc-provider's context) and sub. */
  readonly #readAhead = new WeakMap<object, Map<string, Promise<StoredRecord | undefined>>>();

  constructor(store: Store, subjects: Subjects, ttlSeconds: number) {
    this.#store = store;
    this.#subjects = subjects;
    this.#ttlSeconds = ttlSeconds;
  }

  /** Keeps the identity and returns its sub. */
  async save(identity: Identity): Promise<string> {
    const personKey = identity.IdProviderPersonId ?? identity.PersonalNumber;
    if (!personKey) throw new Error(`${identity.IdProviderName} identified a person with neither a person id nor a personal number`);
    const sub = this.#subjects.forPerson(identity.IdProviderName, personKey);
    await this.#store.set(storeKey('account', sub), JSON.stringify(identity), this.#ttlSeconds);
    return sub;
  }

  /**
   * Starts reading the account of `sub` for `request` (oidc-provider's context), which findAccount
   * of the same request then takes instead of reading it again. Called when a refresh token is read:
   * its account is then read in the same round trip as its grant, which oidc-provider reads next,
   * rather than in a round trip of its own after it. The read is as fresh as findAccount's own
   * (a login saving the account meanwhile is seen by neither or both), and a request that fails
   * before findAccount (a refresh token of another client, an expired one) only read it.
   */
  readAhead(request: object, sub: string): void {
    const reading = this.#read(sub);
    // Its failure is findAccount's to report; unread, it is dropped with its request.
    reading.catch(() => undefined);
    const bySub = this.#readAhead.get(request) ?? new Map<string, Promise<StoredRecord | undefined>>();
    this.#readAhead.set(request, bySub.set(sub, reading));
  }

  #read(sub: string): Promise<StoredRecord | undefined> {
    return this.#store.get(storeKey('account', sub));
  }

  /** The read readAhead started for this request and sub, once: a later findAccount reads again. */
  #takeReadAhead(request: object | undefined, sub: string): Promise<StoredRecord | undefined> | undefined {
    const bySub = request && this.#readAhead.get(request);
    const reading = bySub?.get(sub);
    bySub?.delete(sub);
    return reading;
  }

  /**
   * The person's claims. An ID token issued for a code (or a refresh token) of a login that
   * carried authorization_details also carries them as the eID granted them — what the person
   * signed or approved, with the eID's evidence — so the client has them in the signed token.
   */
  readonly findAccount: FindAccount = async (ctx, sub, token) => {
    const record = await (this.#takeReadAhead(ctx, sub) ?? this.#read(sub));
    if (!record) return undefined;
    const claims = { sub, ...identityClaims(JSON.parse(record.value) as Identity) };
    const granted = token && 'rar' in token ? token.rar : undefined;
    return { accountId: sub, claims: (use) => (use === 'id_token' && granted ? { ...claims, authorization_details: granted } : claims) };
  };
}
