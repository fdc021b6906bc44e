import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

/**
 * The name in the store of a record whose id is a credential: an access or refresh token, a
 * code, a session cookie's value, a request_uri, an auth_req_id. Its key holds HMAC-SHA-256 of
 * the id rather than the id, so a copy of the store (a replica, a backup, MONITOR) names no
 * token anyone could use; the record is found again from the id its holder presents.
 *
 * The ids are random 256-bit values, so the hash alone keeps them from being read back; the key
 * (derived from the subject secret, which never changes: a new one would change every sub) also
 * keeps a guessable id, a device flow's user code, from being tried against it. It cannot rotate:
 * under a new key no record would be found.
 */
export class KeyNames {
  readonly #key: KeyObject;

  constructor(secret: string) {
    this.#key = createSecretKey(Buffer.from(hkdfSync('sha256', secret, '', 'nordic-eid-broker: key names in the store', 32)));
  }

  /** The part of a key that stands for `id`: 43 characters of base64url. */
  of(id: string): string {
    return createHmac('sha256', this.#key).update(id).digest('base64url');
  }
}

/**
 * Where a broker before hashed key names kept a credential's record: `oidc:<Model>:<id>`. A read
 * that finds nothing at the hashed key looks there too, but only while a record written there can
 * still be alive: until the moment this version first started (`sinceMs`, kept in the store by
 * the first instance) plus the longest lifetime of the model's records. After that a miss costs
 * no second command; a hit never did.
 */
export class FormerKeyNames {
  /** Epoch ms until which each model's former records may live; a model not listed never had any read. */
  readonly #until: ReadonlyMap<string, number>;

  /** `lifetimes`: the longest a record of each model lives, in seconds (Infinity: as long as its client). */
  constructor(sinceMs: number, lifetimes: Readonly<Record<string, number>>) {
    this.#until = new Map(Object.entries(lifetimes).map(([model, seconds]) => [model, sinceMs + seconds * 1000]));
  }

  /** Whether a record of `model` written under its former key may still be alive. */
  alive(model: string): boolean {
    return Date.now() < (this.#until.get(model) ?? 0);
  }
}
