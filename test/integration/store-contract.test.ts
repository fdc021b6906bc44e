import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger, type Logger } from '../../src/log.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createRedisStore, type RedisStoreOptions } from '../../src/store/redis-store.js';
import { StoreUnavailableError, type Store } from '../../src/store/store.js';
import {
  deleteKeysWithPrefix, findFreePort, openMonitor, redisUrl, startRedisServer, uniquePrefix, type RedisServer,
} from '../support/redis.js';

/** Long enough for a record with a 1 s lifetime to be gone on both stores. */
const PAST_ONE_SECOND_MS = 1_200;
const RECOVERY_WAIT = { timeout: 10_000, interval: 50 };

/** The behaviour every Store must have, whatever keeps the data. */
function describeStoreContract(kind: string, openStore: () => Promise<Store>): void {
  /** A store of its own for each test, so that the tests run at once: their waits for lifetimes to pass overlap. */
  const test = it.extend<{ store: Store }>({
    // eslint-disable-next-line no-empty-pattern -- vitest reads a fixture's needs from this pattern; it has none
    store: async ({}, use) => {
      const store = await openStore();
      await use(store);
      await store.close();
    },
  });

  describe.concurrent(`${kind} store`, () => {

    test('reads back what it wrote, and nothing where nothing was written', async ({ store }) => {
      await store.set('record', 'value');
      expect(await store.get('record')).toEqual({ value: 'value' });
      expect(await store.get('never-written')).toBeUndefined();
    });

    test('forgets a record once its lifetime is over', async ({ store }) => {
      await store.set('expiring', 'value', 1);
      expect(await store.get('expiring')).toEqual({ value: 'value' });
      await sleep(PAST_ONE_SECOND_MS);
      expect(await store.get('expiring')).toBeUndefined();
    });

    test('keeps a record forever once it is written again without a lifetime', async ({ store }) => {
      await store.set('record', 'first', 1);
      await store.set('record', 'second');
      await sleep(PAST_ONE_SECOND_MS);
      expect(await store.get('record')).toEqual({ value: 'second' });
    });

    test('keeps a consumed record consumed when it is written again', async ({ store }) => {
      await store.set('code', 'first', 60);
      expect(await store.consume('code', 1_700_000_000)).toBe('consumed');
      await store.set('code', 'second', 60);
      expect(await store.get('code')).toEqual({ value: 'second', consumedAt: 1_700_000_000 });
      expect(await store.consume('code', 1_700_000_001)).toBe('already');
    });

    test('releases a consume by its claim only, and the record can be consumed again', async ({ store }) => {
      await store.set('code', 'value', 60);
      expect(await store.consume('code', 1_700_000_000, 'claim-a')).toBe('consumed');
      await store.release('code', 'claim-b');
      expect(await store.get('code')).toEqual({ value: 'value', consumedAt: 1_700_000_000 });
      await store.release('code', 'claim-a');
      expect(await store.get('code')).toEqual({ value: 'value' });
      expect(await store.consume('code', 1_700_000_001, 'claim-b')).toBe('consumed');
      await store.release('code', 'claim-a');
      expect(await store.consume('code', 1_700_000_002, 'claim-a')).toBe('already');
    });

    test('answers missing when consuming a record that is not there', async ({ store }) => {
      expect(await store.consume('never-written', 1_700_000_000)).toBe('missing');
      expect(await store.get('never-written')).toBeUndefined();
    });

    test('lets exactly one of ten concurrent consumers consume a record', async ({ store }) => {
      await store.set('code', 'value', 60);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.consume('code', 1_700_000_000 + i)));
      expect(results.filter((result) => result === 'consumed')).toHaveLength(1);
      expect(results.filter((result) => result === 'already')).toHaveLength(9);
      const winner = results.indexOf('consumed');
      expect(await store.get('code')).toEqual({ value: 'value', consumedAt: 1_700_000_000 + winner });
    });

    test('replaces a record and hands each of ten concurrent writers a different earlier value', async ({ store }) => {
      expect(await store.replace('replaced', 'first', 60)).toBeUndefined();
      const earlier = await Promise.all(Array.from({ length: 10 }, (_, i) => store.replace('replaced', `writer ${i}`, 60)));
      expect(new Set(earlier).size).toBe(10);
      expect(earlier).toContain('first');
      const last = (await store.get('replaced'))!.value;
      expect([...earlier, last].sort()).toEqual(['first', ...Array.from({ length: 10 }, (_, i) => `writer ${i}`)].sort());
    });

    test('lets exactly one of ten concurrent writers write an absent record', async ({ store }) => {
      const written = await Promise.all(Array.from({ length: 10 }, (_, i) => store.setIfAbsent('lock', `writer ${i}`, 60)));
      expect(written.filter(Boolean)).toHaveLength(1);
      expect(await store.get('lock')).toEqual({ value: `writer ${written.indexOf(true)}` });
    });

    test('updates only a record that is there, keeping its consumption, and never makes a gone one again', async ({ store }) => {
      expect(await store.update('updated', 'value', 60)).toBe(false);
      expect(await store.get('updated')).toBeUndefined();
      await store.set('updated', 'first', 1);
      await store.consume('updated', 1_700_000_000);
      expect(await store.update('updated', 'second', 1)).toBe(true);
      expect(await store.get('updated')).toEqual({ value: 'second', consumedAt: 1_700_000_000 });
      await sleep(PAST_ONE_SECOND_MS);
      expect(await store.update('updated', 'after expiry', 60)).toBe(false);
      expect(await store.get('updated')).toBeUndefined();
    });

    test('writes an absent record with its lifetime, and leaves a present one alone', async ({ store }) => {
      expect(await store.setIfAbsent('expiring', 'value', 1)).toBe(true);
      expect(await store.setIfAbsent('expiring', 'other', 60)).toBe(false);
      expect(await store.get('expiring')).toEqual({ value: 'value' });
      await sleep(PAST_ONE_SECOND_MS);
      expect(await store.setIfAbsent('expiring', 'after expiry')).toBe(true);
      expect(await store.get('expiring')).toEqual({ value: 'after expiry' });
    });

    test('gives a lease to exactly one of ten concurrent takers, until it lapses', async ({ store }) => {
      const taken = await Promise.all(Array.from({ length: 10 }, () => store.lease('lease', 1000)));
      expect(taken.filter(Boolean)).toHaveLength(1);
      expect(await store.lease('lease', 60_000)).toBe(false);
      await sleep(PAST_ONE_SECOND_MS);
      expect(await store.lease('lease', 60_000)).toBe(true);
      expect(await store.lease('lease', 60_000)).toBe(false);
    });

    test('gives a claimed lease to exactly one of ten concurrent claims; the same claim asking again is told it holds it, until it lapses', async ({ store }) => {
      const claims = Array.from({ length: 10 }, (_, index) => `claim-${index}`);
      const taken = await Promise.all(claims.map((claim) => store.claimLease('claimed', claim, 1000)));
      expect(taken.filter(Boolean)).toHaveLength(1);
      const holder = claims[taken.indexOf(true)]!;
      // A try again of the same claim, as after an answer a dropped connection lost.
      expect(await store.claimLease('claimed', holder, 60_000)).toBe(true);
      expect(await store.claimLease('claimed', 'another', 60_000)).toBe(false);
      // A lease taken without a claim is another's.
      expect(await store.lease('unclaimed', 60_000)).toBe(true);
      expect(await store.claimLease('unclaimed', holder, 60_000)).toBe(false);
      await sleep(PAST_ONE_SECOND_MS);
      expect(await store.claimLease('claimed', 'another', 60_000)).toBe(true);
      expect(await store.claimLease('claimed', holder, 60_000)).toBe(false);
      expect(await store.lease('claimed', 60_000)).toBe(false);
    });

    test('answers each of many leases asked at once for itself, whatever their keys and lifetimes', async ({ store }) => {
      expect(await store.lease('held', 60_000)).toBe(true);
      const keys = ['held', ...Array.from({ length: 200 }, (_, index) => `free-${index}`), 'free-7', 'short'];
      const taken = await Promise.all(keys.map((key) => store.lease(key, key === 'short' ? 1000 : 60_000)));
      expect(taken[0]).toBe(false);
      expect(taken.slice(1, 201).every(Boolean)).toBe(true);
      // free-7 asked for twice in one turn: the second asker finds it taken.
      expect(taken[201]).toBe(false);
      expect(taken[202]).toBe(true);
      await sleep(PAST_ONE_SECOND_MS);
      expect(await Promise.all([store.lease('short', 60_000), store.lease('free-7', 60_000)])).toEqual([true, false]);
    });

    test('collects distinct set members, and has none for a set never written', async ({ store }) => {
      await store.addToSet('grant', 'token-a', 60);
      await store.addToSet('grant', 'token-b', 60);
      await store.addToSet('grant', 'token-a', 60);
      expect((await store.members('grant')).sort()).toEqual(['token-a', 'token-b']);
      expect(await store.members('never-written')).toEqual([]);
    });

    test('takes members out of a set, ignoring absent members and sets', async ({ store }) => {
      await store.addToSet('shrinking', 'a', 60);
      await store.addToSet('shrinking', 'b', 60);
      await store.removeFromSet('shrinking', 'a');
      await store.removeFromSet('shrinking', 'never-added');
      await store.removeFromSet('never-written', 'a');
      expect(await store.members('shrinking')).toEqual(['b']);
      await store.removeFromSet('shrinking', 'b');
      expect(await store.members('shrinking')).toEqual([]);
    });

    test('only ever lengthens the lifetime of a set', async ({ store }) => {
      await store.addToSet('shortened', 'a', 3);
      await store.addToSet('shortened', 'b', 1);
      await store.addToSet('lengthened', 'a', 1);
      await store.addToSet('lengthened', 'b', 3);
      await store.addToSet('persistent', 'a');
      await store.addToSet('persistent', 'b', 1);
      await store.addToSet('made-persistent', 'a', 1);
      await store.addToSet('made-persistent', 'b');
      await store.addToSet('expiring', 'a', 1);
      await sleep(PAST_ONE_SECOND_MS);
      for (const key of ['shortened', 'lengthened', 'persistent', 'made-persistent']) {
        expect((await store.members(key)).sort(), key).toEqual(['a', 'b']);
      }
      expect(await store.members('expiring')).toEqual([]);
    });

    test('deletes several keys at once, records and sets alike, ignoring absent ones', async ({ store }) => {
      await store.set('record-a', 'a');
      await store.set('record-b', 'b', 60);
      await store.addToSet('set', 'member');
      await store.delete('record-a', 'record-b', 'set', 'never-written');
      await store.delete();
      expect(await store.get('record-a')).toBeUndefined();
      expect(await store.get('record-b')).toBeUndefined();
      expect(await store.members('set')).toEqual([]);
    });

    test('refuses to treat a record as a set or a set as a record', async ({ store }) => {
      await store.set('record', 'value');
      await store.addToSet('set', 'member');
      await expect(store.addToSet('record', 'member')).rejects.toThrow(/WRONGTYPE/);
      await expect(store.set('set', 'value')).rejects.toThrow(/WRONGTYPE/);
      await expect(store.get('set')).rejects.toThrow(/WRONGTYPE/);
    });

    test('counts one fixed window: the first increment starts it, later ones never extend it', async ({ store }) => {
      const first = await store.increment('counter', 1);
      expect(first.count).toBe(1);
      expect(first.ttlMs).toBeGreaterThan(0);
      expect(first.ttlMs).toBeLessThanOrEqual(1_000);
      const second = await store.increment('counter', 60);
      expect(second.count).toBe(2);
      expect(second.ttlMs).toBeLessThanOrEqual(1_000);
      await sleep(PAST_ONE_SECOND_MS);
      expect((await store.increment('counter', 60)).count).toBe(1);
    });

    test('tells the lifetime left of a count above the threshold asked for, and the count always', async ({ store }) => {
      await store.increment('counter', 1, 1, 2);
      const within = await store.increment('counter', 60, 1, 2);
      expect(within.count).toBe(2);
      const above = await store.increment('counter', 60, 1, 2);
      expect(above.count).toBe(3);
      expect(above.ttlMs).toBeGreaterThan(0);
      expect(above.ttlMs).toBeLessThanOrEqual(1_000);
      await sleep(PAST_ONE_SECOND_MS);
      expect(await store.increment('counter', 60, 1, 2)).toEqual({ count: 1, ttlMs: 60_000 });
    });

    test('takes a count back with a negative increment, in the same window', async ({ store }) => {
      await store.increment('counter', 1);
      await store.increment('counter', 60);
      const given = await store.increment('counter', 60, -1);
      expect(given.count).toBe(1);
      expect(given.ttlMs).toBeLessThanOrEqual(1_000);
    });

    test('gives each of ten concurrent increments its own count', async ({ store }) => {
      const counts = await Promise.all(Array.from({ length: 10 }, () => store.increment('counter', 60)));
      expect(counts.map(({ count }) => count).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    test('counts several counters at once, each in its own window, with its own threshold and step', async ({ store }) => {
      await store.increment('older', 1);
      const counts = await store.incrementAll([{ key: 'older', ttlAbove: 5 }, { key: 'newer', by: 3 }, { key: 'above', ttlAbove: 0 }], 60);
      expect(counts.map(({ count }) => count)).toEqual([2, 3, 1]);
      // New counters start their window; a count above its threshold tells what is left of it.
      expect(counts.slice(1).map(({ ttlMs }) => ttlMs)).toEqual([60_000, 60_000]);
      const given = await store.incrementAll([{ key: 'older', by: -1 }, { key: 'newer', by: -1 }], 60);
      expect(given.map(({ count }) => count)).toEqual([1, 2]);
      expect(given[0]!.ttlMs).toBeLessThanOrEqual(1_000);
      expect(given[1]!.ttlMs).toBeGreaterThan(1_000);
      await sleep(PAST_ONE_SECOND_MS);
      expect((await store.incrementAll([{ key: 'older' }], 60))[0]!.count).toBe(1);
      expect(await store.incrementAll([], 60)).toEqual([]);
    });

    test('appends to a stream and reads back its newest entries, oldest first', async ({ store }) => {
      for (let i = 1; i <= 5; i += 1) await store.appendToStream('stream', [{ n: String(i), kind: 'test' }], 1_000, randomUUID());
      expect(await store.readStream('stream', 3)).toEqual([
        { n: '3', kind: 'test' },
        { n: '4', kind: 'test' },
        { n: '5', kind: 'test' },
      ]);
      expect(await store.readStream('never-written', 3)).toEqual([]);
    });

    test('appends many entries at once, in their order', async ({ store }) => {
      await store.appendToStream('stream', [{ n: '1' }], 1_000, randomUUID());
      await store.appendToStream('stream', Array.from({ length: 50 }, (_, i) => ({ n: String(i + 2) })), 1_000, randomUUID());
      expect((await store.readStream('stream', 100)).map(({ n }) => Number(n))).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
      // Entries of one batch keep their own fields, however many each has.
      await store.appendToStream('stream', [{ n: '52', kind: 'a', note: 'three fields' }, { n: '53' }, { n: '54', kind: '' }], 1_000, randomUUID());
      expect(await store.readStream('stream', 3)).toEqual([{ n: '52', kind: 'a', note: 'three fields' }, { n: '53' }, { n: '54', kind: '' }]);
    });

    test('appends a batch sent again under its name once: an append whose answer was lost is sent again', async ({ store }) => {
      const batch = randomUUID();
      await store.appendToStream('resent', [{ n: '1' }, { n: '2' }], 1_000, batch);
      await store.appendToStream('resent', [{ n: '1' }, { n: '2' }], 1_000, batch);
      await store.appendToStream('resent', [{ n: '3' }], 1_000, randomUUID());
      expect((await store.readStream('resent', 10)).map(({ n }) => n)).toEqual(['1', '2', '3']);
    });

    test('keeps at least the newest maxLength entries of a stream', async ({ store }) => {
      for (let i = 1; i <= 20; i += 1) await store.appendToStream('capped', [{ n: String(i) }], 5, randomUUID());
      const kept = await store.readStream('capped', 100);
      expect(kept.length).toBeGreaterThanOrEqual(5);
      expect(kept.slice(-5).map(({ n }) => n)).toEqual(['16', '17', '18', '19', '20']);
      await store.appendToStream('capped', Array.from({ length: 300 }, (_, i) => ({ n: String(i + 21) })), 5, randomUUID());
      const keptOfBatch = await store.readStream('capped', 1_000);
      expect(keptOfBatch.length).toBeLessThan(300);
      expect(keptOfBatch.slice(-5).map(({ n }) => n)).toEqual(['316', '317', '318', '319', '320']);
    });

    test('tracks members that expire one by one, and stops tracking one on request', async ({ store }) => {
      await store.track('tracked', ['a', 'b'], 60);
      await store.track('tracked', ['short'], 1);
      await store.track('tracked', ['a', 'c'], 60);
      expect(await store.countTracked('tracked')).toBe(4);
      await store.untrack('tracked', ['b', 'never-tracked']);
      await store.untrack('tracked', ['c']);
      expect(await store.countTracked('tracked')).toBe(2);
      await sleep(PAST_ONE_SECOND_MS);
      expect(await store.countTracked('tracked')).toBe(1);
      expect(await store.countTracked('never-written')).toBe(0);
    });

    test('hands out due members of a schedule earliest first, each to one taker, and again once its lease is over', async ({ store }) => {
      const now = Date.now();
      await store.schedule('queue', 'later', now + 60_000);
      await store.schedule('queue', 'second', now - 1_000);
      await store.schedule('queue', 'first', now - 2_000);
      await store.schedule('queue', 'third', now - 500);
      expect(await store.countScheduled('queue')).toBe(4);
      expect(await store.takeDue('queue', 2, 60_000)).toEqual(['first', 'second']);
      // Ten takers at once: the one member still due goes to exactly one of them.
      const taken = await Promise.all(Array.from({ length: 10 }, () => store.takeDue('queue', 10, 1_000)));
      expect(taken.flat()).toEqual(['third']);
      await store.unschedule('queue', 'first');
      await store.unschedule('queue', 'never-scheduled');
      expect(await store.countScheduled('queue')).toBe(3);
      await sleep(PAST_ONE_SECOND_MS);
      // 'third' was taken but never finished: its lease is over and it is due again.
      expect(await store.takeDue('queue', 10, 60_000)).toEqual(['third']);
      await store.schedule('queue', 'later', now - 3_000);
      expect(await store.takeDue('queue', 10, 60_000)).toEqual(['later']);
      expect(await store.countScheduled('never-written')).toBe(0);
      expect(await store.takeDue('never-written', 10, 1_000)).toEqual([]);
    });

    test('refuses to count, stream or track on a key that holds something else', async ({ store }) => {
      await store.set('record', 'value');
      await store.addToSet('set', 'member');
      await expect(store.increment('record', 60)).rejects.toThrow(/WRONGTYPE/);
      await expect(store.appendToStream('set', [{ a: 'b' }], 10, randomUUID())).rejects.toThrow(/WRONGTYPE/);
      await expect(store.track('record', ['member'], 60)).rejects.toThrow(/WRONGTYPE/);
      await store.increment('counter', 60);
      await expect(store.get('counter')).rejects.toThrow(/WRONGTYPE/);
    });

    test('delivers a published message to every subscriber of its channel, and none after unsubscribing', async ({ store }) => {
      const first: string[] = [];
      const second: string[] = [];
      const stopFirst = await store.subscribe('channel', (message) => first.push(message));
      const stopSecond = await store.subscribe('channel', (message) => second.push(message));
      const other: string[] = [];
      const stopOther = await store.subscribe('other channel', (message) => other.push(message));
      await store.publish('channel', 'one');
      await vi.waitFor(() => expect(second).toEqual(['one']), RECOVERY_WAIT);
      await stopFirst();
      await store.publish('channel', 'two');
      await vi.waitFor(() => expect(second).toEqual(['one', 'two']), RECOVERY_WAIT);
      expect(first).toEqual(['one']);
      expect(other).toEqual([]);
      await stopSecond();
      await stopOther();
    });

    test('is available and answers a ping', async ({ store }) => {
      expect(store.available).toBe(true);
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}

const silentLog = createLogger('silent');

function redisStoreOptions(url: string, key_prefix: string): RedisStoreOptions {
  return { url, key_prefix, command_timeout_ms: 500 };
}

/** A Redis store that is connected; commands sent before that fail fast by design. */
async function openRedisStore(options: RedisStoreOptions, log: Logger = silentLog): Promise<Store> {
  const store = createRedisStore(options, log);
  await vi.waitFor(() => expect(store.available).toBe(true), RECOVERY_WAIT);
  return store;
}

interface LogLine {
  level: number;
  msg: string;
}

/** A logger that keeps its raw lines, and what each one said at which level. */
function capturingLogger(): { log: Logger; lines: string[]; said: () => LogLine[] } {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const said = () =>
    lines.map((line) => {
      const { level, msg } = JSON.parse(line) as LogLine;
      return { level, msg };
    });
  return { log, lines, said };
}

async function expectEveryOperationUnavailable(store: Store): Promise<void> {
  const operations: Record<string, () => Promise<unknown>> = {
    get: () => store.get('record'),
    set: () => store.set('record', 'value', 60),
    setIfAbsent: () => store.setIfAbsent('record', 'value', 60),
    update: () => store.update('record', 'value', 60),
    lease: () => store.lease('lease', 60_000),
    replace: () => store.replace('record', 'value', 60),
    consume: () => store.consume('record', 1_700_000_000),
    release: () => store.release('record', 'claim'),
    delete: () => store.delete('record', 'set'),
    addToSet: () => store.addToSet('set', 'member', 60),
    members: () => store.members('set'),
    increment: () => store.increment('counter', 60),
    incrementAll: () => store.incrementAll([{ key: 'counter' }, { key: 'other' }], 60),
    appendToStream: () => store.appendToStream('stream', [{ a: 'b' }], 10, randomUUID()),
    readStream: () => store.readStream('stream', 10),
    track: () => store.track('tracked', ['member'], 60),
    untrack: () => store.untrack('tracked', ['member']),
    countTracked: () => store.countTracked('tracked'),
    publish: () => store.publish('channel', 'message'),
    ping: () => store.ping(),
  };
  for (const [name, operation] of Object.entries(operations)) {
    await expect(operation(), name).rejects.toBeInstanceOf(StoreUnavailableError);
  }
}

describeStoreContract('memory', async () => createMemoryStore());

describe('Redis', () => {
  const runPrefix = uniquePrefix('store-contract');
  let storesOpened = 0;
  afterAll(async () => {
    await deleteKeysWithPrefix(runPrefix);
  });

  // A prefix per store keeps one test's keys out of the next one's way.
  describeStoreContract('Redis', () => openRedisStore(redisStoreOptions(redisUrl, `${runPrefix}${++storesOpened}:`)));

  it('carries a message from one instance to the other instances with the same key_prefix only', async () => {
    const prefix = `${runPrefix}pubsub:`;
    const [publisher, subscriber, stranger] = await Promise.all([
      openRedisStore(redisStoreOptions(redisUrl, prefix)),
      openRedisStore(redisStoreOptions(redisUrl, prefix)),
      openRedisStore(redisStoreOptions(redisUrl, `${runPrefix}another-broker:`)),
    ]);
    try {
      const heard: string[] = [];
      const overheard: string[] = [];
      await subscriber.subscribe('orders', (message) => heard.push(message));
      await stranger.subscribe('orders', (message) => overheard.push(message));
      await publisher.publish('orders', 'changed');
      await vi.waitFor(() => expect(heard).toEqual(['changed']), RECOVERY_WAIT);
      expect(overheard).toEqual([]);
    } finally {
      await Promise.all([publisher.close(), subscriber.close(), stranger.close()]);
    }
  });

  it('keeps every key under key_prefix, the ones written by scripts too', async () => {
    const prefix = `${runPrefix}layout:`;
    const store = await openRedisStore(redisStoreOptions(redisUrl, prefix));
    const redis = new Redis(redisUrl);
    try {
      await store.set('record', 'value');
      await store.consume('record', 1_700_000_000);
      await store.addToSet('set', 'member');
      expect(await redis.hgetall(`${prefix}record`)).toEqual({ v: 'value', c: '1700000000' });
      expect(await redis.smembers(`${prefix}set`)).toEqual(['member']);
      expect(await redis.exists('record', 'set')).toBe(0);
    } finally {
      redis.disconnect();
      await store.close();
    }
  });

  it('takes the leases asked for in one turn in one command, each under key_prefix with its lifetime', async () => {
    const prefix = `${runPrefix}leases:`;
    const store = await openRedisStore(redisStoreOptions(redisUrl, prefix));
    const redis = new Redis(redisUrl);
    const monitor = await openMonitor();
    const sent: string[] = [];
    // What the store's connection sent (not the commands its scripts ran), naming this store's keys.
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((arg) => arg.startsWith(prefix))) sent.push(args[0]!.toLowerCase());
    });
    try {
      const keys = Array.from({ length: 64 }, (_, index) => `order-${index}`);
      expect(await Promise.all(keys.map((key) => store.lease(key, 60_000)))).toEqual(keys.map(() => true));
      await store.get('mark');
      await vi.waitFor(() => expect(sent.at(-1)).toBe('hgetall'), RECOVERY_WAIT);
      // EVAL, or EVALSHA once Redis has the script: one command for all 64.
      expect(sent).toHaveLength(2);
      expect(sent[0]).toMatch(/^eval/);
      const lifetimes = await Promise.all(keys.map((key) => redis.pttl(`${prefix}${key}`)));
      expect(lifetimes.every((ms) => ms > 50_000 && ms <= 60_000)).toBe(true);
    } finally {
      monitor.disconnect();
      redis.disconnect();
      await store.close();
    }
  });

  it('rejects every operation as unavailable when nothing listens, and logs that once without secrets', async () => {
    const port = await findFreePort();
    const { log, lines, said } = capturingLogger();
    const store = createRedisStore(redisStoreOptions(`redis://:s3cret@127.0.0.1:${port}`, 'unreachable:'), log);
    try {
      await expectEveryOperationUnavailable(store);
      expect(store.available).toBe(false);
      // Several reconnect attempts fail meanwhile; the log should still say it once.
      await sleep(500);
      expect(said()).toEqual([
        { level: 40, msg: 'Redis is unreachable; store operations fail until it is back' },
      ]);
      expect(lines.join('\n')).not.toContain('s3cret');
    } finally {
      await store.close();
    }
  });

  describe('on a server that goes away', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await startRedisServer();
    });
    afterAll(async () => {
      await server.stop();
    });

    it('rejects operations as unavailable while the server hangs, and works again after', async () => {
      const store = await openRedisStore(redisStoreOptions(server.url, 'hang:'));
      const admin = new Redis(server.url);
      try {
        await store.set('record', 'value');
        await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
        await expect(store.get('record')).rejects.toBeInstanceOf(StoreUnavailableError);
        await vi.waitFor(() => store.get('record'), RECOVERY_WAIT);
        expect(await store.get('record')).toEqual({ value: 'value' });
      } finally {
        admin.disconnect();
        await store.close();
      }
    });

    it('rejects operations as unavailable while the server is down, and recovers by itself', async () => {
      const { log, said } = capturingLogger();
      const store = await openRedisStore(redisStoreOptions(server.url, 'outage:'), log);
      try {
        await store.set('record', 'before');
        await server.stop();
        // An operation racing the news of the lost connection fails just the same.
        await expect(store.get('record')).rejects.toBeInstanceOf(StoreUnavailableError);
        await vi.waitFor(() => expect(store.available).toBe(false), RECOVERY_WAIT);
        await expectEveryOperationUnavailable(store);

        await server.start();
        await vi.waitFor(() => expect(store.available).toBe(true), RECOVERY_WAIT);
        await store.set('record', 'after');
        expect(await store.get('record')).toEqual({ value: 'after' });
        expect(said()).toEqual([
          { level: 30, msg: 'Connected to Redis' },
          { level: 40, msg: 'Redis is unreachable; store operations fail until it is back' },
          { level: 30, msg: 'Redis is reachable again' },
        ]);
      } finally {
        await store.close();
      }
    });
  });
});
