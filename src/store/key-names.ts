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
