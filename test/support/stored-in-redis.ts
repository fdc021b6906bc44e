import type { Redis } from 'ioredis';

/** One key of a broker and what it holds, as a copy of the store would show it. */
export interface Stored {
  key: string;
  content: string;
}

const readers: Record<string, (redis: Redis, key: string) => Promise<unknown>> = {
  hash: (redis, key) => redis.hgetall(key),
  set: (redis, key) => redis.smembers(key),
  zset: (redis, key) => redis.zrange(key, '0', '-1'),
  stream: (redis, key) => redis.xrange(key, '-', '+'),
  string: (redis, key) => redis.get(key),
};

async function contentOf(redis: Redis, key: string): Promise<string> {
  const type = await redis.type(key);
  const read = readers[type];
  return read ? JSON.stringify(await read(redis, key)) : type;
}

/** Every key under `prefix` (SCAN), and everything each holds. */
export async function everythingStored(redis: Redis, prefix: string): Promise<Stored[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return Promise.all(keys.map(async (key) => ({ key, content: await contentOf(redis, key) })));
}

/** The keys that name `value`, or hold it. */
export function keysHolding(stored: readonly Stored[], value: string): string[] {
  return stored.filter(({ key, content }) => key.includes(value) || content.includes(value)).map(({ key }) => key);
}
