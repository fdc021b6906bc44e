import { createHmac } from 'node:crypto';

/**
 * Subject identifiers: keyed hashes, so a sub never reveals (or lets anyone guess) the
 * personal number it was made from, and stays the same for one person and eID as long as
 * subject_secret does.
 */
export class Subjects {
  readonly #secret: string;

  constructor(secret: string) {
    this.#secret = secret;
  }

  #hash(...parts: string[]): string {
    return createHmac('sha256', this.#secret).update(parts.join('\0')).digest('base64url');
  }

  /** The public sub of a person as identified by one eID (by its own id, else the personal number). */
  forPerson(eid: string, personKey: string): string {
    return this.#hash('sub', eid, personKey);
  }

  /** The sub one client sees when it has asked for pairwise subjects. */
  pairwise(sub: string, sectorIdentifier: string): string {
    return this.#hash('pairwise', sectorIdentifier, sub);
  }
}
