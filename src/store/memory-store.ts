import { EventEmitter } from 'node:events';
import { APPENDED_MARK_MS, type ConsumeResult, type CounterCount, type Store, type StoredRecord } from './store.js';

/**
 * A store that lives in this process only: for development, tests and single-instance
 * deployments. It keeps the Redis store's semantics exactly, down to a key holding either a
 * record, a set, a lease, a counter, a stream, an expiring set or a schedule but never two of them, so that nothing
 * works here that would fail on Redis.
 */
export function createMemoryStore(): Store {
  const entries = new Map<string, Entry>();
  const channels = new EventEmitter().setMaxListeners(0);

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

  /** The live entry at `key` when it is of `kind`; an entry of another kind is an error, as on Redis. */
  function liveOf<K extends Entry['kind']>(key: string, kind: K): Extract<Entry, { kind: K }> | undefined {
    const entry = liveEntry(key);
    if (entry && entry.kind !== kind) throw new WrongKindError(key);
    return entry as Extract<Entry, { kind: K }> | undefined;
  }

  const liveRecord = (key: string) => liveOf(key, 'record');
  const liveSet = (key: string) => liveOf(key, 'set');

  /** An expiring set without its dead members; undefined when none is alive. */
  function liveTracked(key: string): TrackedEntry | undefined {
    const entry = liveOf(key, 'tracked');
    if (!entry) return undefined;
    const now = Date.now();
    for (const [member, expiresAt] of entry.members) if (expiresAt <= now) entry.members.delete(member);
    if (entry.members.size > 0) return entry;
    entries.delete(key);
    return undefined;
  }

  function writeRecord(key: string, value: string, previous: RecordEntry | undefined, ttlSeconds?: number): void {
    entries.set(key, { kind: 'record', value, consumedAt: previous?.consumedAt, claim: previous?.claim, expiresAt: expiryFor(ttlSeconds) });
  }

  /** Takes the lease at `key` for `ttlMs` unless anything lives there: true when taken. */
  function lease(key: string, ttlMs: number): boolean {
    if (liveEntry(key)) return false;
    entries.set(key, { kind: 'lease', expiresAt: Date.now() + ttlMs });
    return true;
  }

  /** A counter of one fixed window; its lifetime is known in memory, so always given. */
  function increment(key: string, ttlSeconds: number, by = 1): CounterCount {
    const counter = liveOf(key, 'counter');
    if (counter) {
      counter.count += by;
      return { count: counter.count, ttlMs: Math.max(counter.expiresAt - Date.now(), 1) };
    }
    const ttlMs = Math.round(ttlSeconds * 1000);
    entries.set(key, { kind: 'counter', count: by, expiresAt: Date.now() + ttlMs });
    return { count: by, ttlMs };
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
      writeRecord(key, value, liveRecord(key), ttlSeconds);
    },

    async replace(key, value, ttlSeconds) {
      const earlier = liveRecord(key);
      writeRecord(key, value, earlier, ttlSeconds);
      return earlier?.value;
    },

    async setIfAbsent(key, value, ttlSeconds) {
      if (liveEntry(key)) return false;
      writeRecord(key, value, undefined, ttlSeconds);
      return true;
    },

    async update(key, value, ttlSeconds) {
      const present = liveRecord(key);
      if (!present) return false;
      writeRecord(key, value, present, ttlSeconds);
      return true;
    },

    async lease(key, ttlMs) {
      return lease(key, ttlMs);
    },

    async claimLease(key, claim, ttlMs) {
      const held = liveOf(key, 'lease');
      if (held) return held.claim === claim;
      entries.set(key, { kind: 'lease', claim, expiresAt: Date.now() + ttlMs });
      return true;
    },

    async consume(key, at, claim): Promise<ConsumeResult> {
      const record = liveRecord(key);
      if (!record) return 'missing';
      if (record.consumedAt !== undefined) return 'already';
      record.consumedAt = at;
      record.claim = claim;
      return 'consumed';
    },

    async release(key, claim) {
      const record = liveRecord(key);
      if (record?.claim !== claim) return;
      record.consumedAt = undefined;
      record.claim = undefined;
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

    async removeFromSet(key, member) {
      const set = liveSet(key);
      if (!set) return;
      set.members.delete(member);
      if (set.members.size === 0) entries.delete(key);
    },

    async increment(key, ttlSeconds, by = 1) {
      return increment(key, ttlSeconds, by);
    },

    async incrementAll(counters, ttlSeconds) {
      return counters.map((counter) => increment(counter.key, ttlSeconds, counter.by));
    },

    async appendToStream(key, added, maxLength, batch) {
      if (!lease(`${key}:appended:${batch}`, APPENDED_MARK_MS)) return;
      const stream = liveOf(key, 'stream') ?? { kind: 'stream', items: [], expiresAt: undefined };
      entries.set(key, stream);
      stream.items.push(...added.map((fields) => ({ ...fields })));
      if (stream.items.length > maxLength) stream.items.splice(0, stream.items.length - maxLength);
    },

    async readStream(key, count) {
      return (liveOf(key, 'stream')?.items ?? []).slice(-count).map((item) => ({ ...item }));
    },

    async track(key, members, ttlSeconds) {
      const expiresAt = Date.now() + Math.round(ttlSeconds * 1000);
      let tracked = liveTracked(key);
      if (!tracked) {
        tracked = { kind: 'tracked', members: new Map(), expiresAt: undefined };
        entries.set(key, tracked);
      }
      for (const member of members) tracked.members.set(member, expiresAt);
    },

    async untrack(key, members) {
      const tracked = liveTracked(key);
      for (const member of members) tracked?.members.delete(member);
    },

    async countTracked(key) {
      return liveTracked(key)?.members.size ?? 0;
    },

    async publish(channel, message) {
      // Delivered after the caller's turn, as Redis would: a publisher never runs its subscribers inline.
      queueMicrotask(() => channels.emit(channel, message));
    },

    async subscribe(channel, onMessage) {
      channels.on(channel, onMessage);
      return async () => {
        channels.off(channel, onMessage);
      };
    },

    async schedule(key, member, dueAtMs) {
      const entry = liveOf(key, 'schedule');
      if (entry) entry.members.set(member, dueAtMs);
      else entries.set(key, { kind: 'schedule', members: new Map([[member, dueAtMs]]), expiresAt: undefined });
    },

    async takeDue(key, limit, leaseMs) {
      const entry = liveOf(key, 'schedule');
      if (!entry) return [];
      const now = Date.now();
      const due = [...entry.members]
        .filter(([, dueAt]) => dueAt <= now)
        .sort((a, b) => a[1] - b[1])
        .slice(0, limit)
        .map(([member]) => member);
      for (const member of due) entry.members.set(member, now + leaseMs);
      return due;
    },

    async unschedule(key, member) {
      const entry = liveOf(key, 'schedule');
      entry?.members.delete(member);
      if (entry?.members.size === 0) entries.delete(key);
    },

    async countScheduled(key) {
      return liveOf(key, 'schedule')?.members.size ?? 0;
    },

    get available() {
      return true;
    },

    get answering() {
      return true;
    },

    async ping() {},

    now: () => Date.now(),

    async justStarted() {
      return false;
    },

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
  /** The claim the consume was made with, which release names. */
  claim?: string | undefined;
  /** Epoch milliseconds; undefined for never. */
  expiresAt: number | undefined;
}

interface SetEntry {
  kind: 'set';
  members: Set<string>;
  /** Epoch milliseconds; undefined for never. */
  expiresAt: number | undefined;
}

/** A lease: its lifetime, and the claim of claimLease (a Redis string set with NX and PX). */
interface LeaseEntry {
  kind: 'lease';
  claim?: string;
  expiresAt: number;
}

/** A counter of one fixed window (increment). */
interface CounterEntry {
  kind: 'counter';
  count: number;
  expiresAt: number;
}

/** A capped log of entries (a Redis stream). */
interface StreamEntry {
  kind: 'stream';
  items: Array<Record<string, string>>;
  expiresAt: undefined;
}

/** A set whose members expire one by one (a Redis sorted set scored by expiry). */
interface TrackedEntry {
  kind: 'tracked';
  /** Member → epoch milliseconds at which it stops counting. */
  members: Map<string, number>;
  expiresAt: undefined;
}

/** Members by when each is due (a Redis sorted set scored by that time). */
interface ScheduleEntry {
  kind: 'schedule';
  /** Member → epoch milliseconds at which it is due. */
  members: Map<string, number>;
  expiresAt: undefined;
}

type Entry = RecordEntry | SetEntry | LeaseEntry | CounterEntry | StreamEntry | TrackedEntry | ScheduleEntry;

function expiryFor(ttlSeconds: number | undefined): number | undefined {
  return ttlSeconds === undefined ? undefined : Date.now() + ttlSeconds * 1000;
}

function hasExpired(entry: Entry, now: number): boolean {
  return entry.expiresAt !== undefined && entry.expiresAt <= now;
}

/** Redis answers WRONGTYPE here; failing the same way keeps such a bug from hiding until production. */
class WrongKindError extends Error {
  constructor(key: string) {
    super(`WRONGTYPE the key ${key} holds another kind of value (a record, a set, a lease, a counter, a stream, a tracked set or a schedule)`);
    this.name = 'WrongKindError';
  }
}
