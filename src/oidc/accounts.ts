import type { FindAccount } from 'oidc-provider';
import type { Identity } from '../identity/identity.js';
import type { Store } from '../store/store.js';
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
   * The person's claims. An ID token issued for a code (or a refresh token) of a login that
   * carried authorization_details also carries them as the eID granted them — what the person
   * signed or approved, with the eID's evidence — so the client has them in the signed token.
   */
  readonly findAccount: FindAccount = async (_ctx, sub, token) => {
    const record = await this.#store.get(storeKey('account', sub));
    if (!record) return undefined;
    const claims = { sub, ...identityClaims(JSON.parse(record.value) as Identity) };
    const granted = token && 'rar' in token ? token.rar : undefined;
    return { accountId: sub, claims: (use) => (use === 'id_token' && granted ? { ...claims, authorization_details: granted } : claims) };
  };
}
