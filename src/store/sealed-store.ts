import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { Store } from './store.js';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Marks a sealed value: `sealed:<key id>:<iv, ciphertext and tag in base64url>`. */
const SEALED = /^sealed:([A-Za-z0-9_-]{8}):([A-Za-z0-9_-]+)$/;

interface SealingKey {
  id: string;
  key: Buffer;
}

/** What the store's values are sealed for: the purpose every key is derived for unless a Sealer is given another. */
const STORE_PURPOSE = 'values sealed in the store';

function sealingKey(secret: string, purpose: string): SealingKey {
  const key = Buffer.from(hkdfSync('sha256', secret, '', `nordic-eid-broker: ${purpose}`, 32));
  return { id: createHash('sha256').update(key).digest('base64url').slice(0, 8), key };
}

/**
 * Encrypts values for the store with AES-256-GCM, under keys derived from the configured
 * secrets: the first seals, every one opens, so keys rotate by prepending a new one (values
 * sealed with an older key stay readable while it is listed). A Sealer for another `purpose`
 * derives other keys from the same secrets: what it seals, the store's Sealer cannot open, and
 * the other way round.
 */
export class Sealer {
  readonly #keys: SealingKey[];

  constructor(secrets: readonly string[], purpose = STORE_PURPOSE) {
    if (secrets.length === 0) throw new Error('a Sealer needs at least one secret');
    this.#keys = secrets.map((secret) => sealingKey(secret, purpose));
  }

  seal(value: string): string {
    const { id, key } = this.#keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv);
    const sealed = Buffer.concat([iv, cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `sealed:${id}:${sealed.toString('base64url')}`;
  }

  /** The value inside a sealed one; a value that was never sealed (written before sealing was on) as it is. */
  open(stored: string): string {
    const match = SEALED.exec(stored);
    if (!match) return stored;
    const sealingKey = this.#keyOf(match[1]!);
    if (!sealingKey) throw new Error(`a value in the store is sealed with key ${match[1]}, which store_encryption_keys no longer lists`);
    return decrypt(sealingKey, match[2]!);
  }

  /**
   * The value inside `sealed` if this Sealer sealed it and no one altered it since; undefined for
   * anything else (a value never sealed, sealed with a key it does not hold, altered, cut short),
   * which came from someone it should not trust.
   */
  openAuthentic(sealed: string): string | undefined {
    const match = SEALED.exec(sealed);
    if (!match) return undefined;
    const sealingKey = this.#keyOf(match[1]!);
    if (!sealingKey) return undefined;
    try {
      return decrypt(sealingKey, match[2]!);
    } catch {
      return undefined;
    }
  }

  #keyOf(id: string): SealingKey | undefined {
    return this.#keys.find((candidate) => candidate.id === id);
  }
}

/** The text sealed as `encoded` (iv, ciphertext and tag in base64url) with `key`; throws if it was altered. */
function decrypt({ key }: SealingKey, encoded: string): string {
  const sealed = Buffer.from(encoded, 'base64url');
  // A tag of the full length only: GCM would take a shorter one, which is easier to forge.
  const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
}

/**
 * Records the sealed store encrypts: those whose key begins with `prefix`; with `holding`, only
 * those whose value it finds personal data in (a token that carries authorization_details), so
 * that the others cost no encryption. It is asked on every write under the prefix: a search of
 * the text, not a parse.
 */
export interface SealedRecords {
  readonly prefix: string;
  readonly holding?: (value: string) => boolean;
}

/**
 * The store, with the records `sealed` names sealed: written encrypted, read decrypted. A record
 * under a prefix with `holding` is opened whether or not it was sealed (Sealer.open passes a value
 * that never was). Everything else — other keys, sets, counters, consume — passes through
 * untouched, so any module that keeps personal data in records can be given this store instead of
 * the plain one.
 */
export function sealedStore(inner: Store, sealer: Sealer, sealed: readonly SealedRecords[]): Store {
  const rulesOf = (key: string) => sealed.find((rule) => key.startsWith(rule.prefix));
  const isSealed = (key: string) => rulesOf(key) !== undefined;
  const sealing = (key: string, value: string) => {
    const rule = rulesOf(key);
    return rule !== undefined && (rule.holding === undefined || rule.holding(value)) ? sealer.seal(value) : value;
  };
  const overrides: Pick<Store, 'get' | 'set' | 'setIfAbsent' | 'update' | 'replace'> = {
    // A key that is not sealed is read as it is, without a step of its own: oidc-provider's
    // grants are read through here on every token request.
    get(key) {
      const reading = inner.get(key);
      return isSealed(key) ? reading.then((record) => record && { ...record, value: sealer.open(record.value) }) : reading;
    },
    set: (key, value, ttlSeconds) => inner.set(key, sealing(key, value), ttlSeconds),
    setIfAbsent: (key, value, ttlSeconds) => inner.setIfAbsent(key, sealing(key, value), ttlSeconds),
    update: (key, value, ttlSeconds) => inner.update(key, sealing(key, value), ttlSeconds),
    async replace(key, value, ttlSeconds) {
      if (!isSealed(key)) return inner.replace(key, value, ttlSeconds);
      const earlier = await inner.replace(key, sealing(key, value), ttlSeconds);
      return earlier === undefined ? undefined : sealer.open(earlier);
    },
  };
  // Each of the store's own methods bound once, rather than on every call.
  const bound = new WeakMap<object, unknown>();
  return new Proxy(inner, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof typeof overrides];
      const member: unknown = Reflect.get(target, property, target);
      if (typeof member !== 'function') return member;
      let method = bound.get(member);
      if (!method) bound.set(member, (method = member.bind(target)));
      return method;
    },
  });
}
