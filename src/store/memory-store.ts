import type { ConsumeResult, Store, StoredRecord } from './store.js';

/**
 * A store that lives in this process only: for development, tests and single-instance
 * deployments. It keeps the Redis store's semantics exactly, down to a key holding either a
 * record or a set but never both, so that nothing works here that would fail on Redis.
 */
export function createMemoryStore(): Store {
  const entries = new Map<string, Entry>();

  // Reads drop expired entries already; the sweep only bounds the memory held by keys that
  // are never read again (codes nobody redeems, sessions nobody resumes).
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, entry] of entries) {
      if (hasExpired(entry, now)) entries.delete(key);
    }
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  function liveEntry(key: string): Entry | undefined {
    const entry = entries.get(key);
    if (entry && hasExpired(entry, Date.now())) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  function liveRecord(key: string): RecordEntry | undefined {
    const entry = liveEntry(key);
    if (entry?.kind === 'set') throw new WrongKindError(key);
    return entry;
  }

  function liveSet(key: string): SetEntry | undefined {
    const entry = liveEntry(key);
    if (entry?.kind === 'record') throw new WrongKindError(key);
    return entry;
  }

  function writeRecord(key: string, value: string, consumedAt: number | undefined, ttlSeconds?: number): void {
    entries.set(key, { kind: 'record', value, consumedAt, expiresAt: expiryFor(ttlSeconds) });
  }

  return {
    async get(key) {
      const record = liveRecord(key);
      if (!record) return undefined;
      const stored: StoredRecord = { value: record.value };
      if (record.consumedAt !== undefined) stored.consumedAt = record.consumedAt;
      return stored;
    },

    async set(key, value, ttlSeconds) {
      writeRecord(key, value, liveRecord(key)?.consumedAt, ttlSeconds);
    },

    async setIfAbsent(key, value, ttlSeconds) {
      if (liveEntry(key)) return false;
      writeRecord(key, value, undefined, ttlSeconds);
      return true;
    },

    async consume(key, at): Promise<ConsumeResult> {
      const record = liveRecord(key);
      if (!record) return 'missing';
      if (record.consumedAt !== undefined) return 'already';
      record.consumedAt = at;
      return 'consumed';
    },

    async delete(...keys) {
      for (const key of keys) entries.delete(key);
    },

    async addToSet(key, member, ttlSeconds) {
      const expiresAt = expiryFor(ttlSeconds);
      const set = liveSet(key);
      if (!set) {
        entries.set(key, { kind: 'set', members: new Set([member]), expiresAt });
        return;
      }
      set.members.add(member);
      if (expiresAt === undefined || (set.expiresAt !== undefined && set.expiresAt < expiresAt)) {
        set.expiresAt = expiresAt;
      }
    },

    async members(key) {
      return [...(liveSet(key)?.members ?? [])];
    },

    get available() {
      return true;
    },

    async ping() {},

    async close() {
      clearInterval(sweep);
    },
  };
}

const SWEEP_INTERVAL_MS = 60_000;

interface RecordEntry {
  kind: 'record';
  value: string;
  consumedAt: number | undefined;
  /** Epoch milliseconds; undefined for never. */
  expiresAt: number | undefined;
}

interface SetEntry {
  kind: 'set';
  members: Set<string>;
  /** Epoch milliseconds; undefined for never. */
  expiresAt: number | undefined;
}

type Entry = RecordEntry | SetEntry;

function expiryFor(ttlSeconds: number | undefined): number | undefined {
  return ttlSeconds === undefined ? undefined : Date.now() + ttlSeconds * 1000;
}

function hasExpired(entry: Entry, now: number): boolean {
  return entry.expiresAt !== undefined && entry.expiresAt <= now;
}

/** Redis answers WRONGTYPE here; failing the same way keeps such a bug from hiding until production. */
class WrongKindError extends Error {
  constructor(key: string) {
    super(`WRONGTYPE the key ${key} holds the other kind of value (a record versus a set)`);
    this.name = 'WrongKindError';
  }
}
