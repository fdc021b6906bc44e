import type { BrokerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { createMemoryStore } from './memory-store.js';
import type { CommandObserver } from './redis-store.js';
import type { Store } from './store.js';

export type { Store, StoredRecord, ConsumeResult } from './store.js';
export type { CommandObserver } from './redis-store.js';
export { StoreUnavailableError } from './store.js';

/**
 * Redis when configured; otherwise the embedded in-memory store, which cannot be shared. The
 * Redis client is loaded only when it is used: without it, the embedded default starts sooner.
 */
export async function createStore(redis: BrokerConfig['redis'], log: Logger, observe?: CommandObserver): Promise<Store> {
  if (redis) return (await import('./redis-store.js')).createRedisStore(redis, log, observe);
  log.warn(
    'no redis configured: using the in-memory store. It serves one process only, and logins, tokens and generated keys vanish on restart.',
  );
  return createMemoryStore();
}
