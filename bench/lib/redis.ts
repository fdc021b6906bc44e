import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { findFreePort } from '../../test/support/ports.js';
import { startProcess, type BenchProcess } from './processes.js';

/**
 * The Redis every scenario runs against. By default a private redis-server on a free loopback
 * port, started and ended by the bench: its memory figures are then the bench's alone, and
 * the bench's load does not slow down anyone else's tests on the shared Redis. With
 * BENCH_REDIS_URL the bench uses that server instead, under its own key prefixes, and removes
 * exactly those keys at the end.
 */
export interface BenchRedis {
  url: string;
  version: string;
  private: boolean;
  /** The private redis-server's process id. */
  pid?: number;
  /** A key prefix no one else uses: `bench:<run>:<name>:`. */
  prefix(name: string): string;
  /** INFO memory used_memory, in bytes. */
  usedMemory(): Promise<number>;
  /** INFO stats total_commands_processed: every command the server has run. */
  commandsProcessed(): Promise<number>;
  /** The sum of MEMORY USAGE over every key under `prefix`, and how many keys there are. */
  prefixMemory(prefix: string): Promise<{ bytes: number; keys: number }>;
  close(): Promise<void>;
}


async function startRedisServer(): Promise<{ url: string; process: BenchProcess }> {
  const port = await findFreePort();
  const proc = startProcess('redis-server', 'redis-server', {
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()],
  });
  return { url: `redis://127.0.0.1:${port}`, process: proc };
}

async function connectWhenUp(url: string, deadlineMs: number): Promise<Redis> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
      return redis;
    } catch (error) {
      redis.disconnect();
      if (Date.now() > deadline) throw new Error(`Redis at ${url} does not answer: ${(error as Error).message}`);
      await sleep(50);
    }
  }
}

async function scanPrefix(redis: Redis, prefix: string, each: (keys: string[]) => Promise<void>): Promise<void> {
  for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 })) {
    if ((keys as string[]).length) await each(keys as string[]);
  }
}

export async function openBenchRedis(externalUrl: string | undefined): Promise<BenchRedis> {
  const server = externalUrl ? undefined : await startRedisServer();
  const url = externalUrl ?? server!.url;
  const redis = await connectWhenUp(url, 10_000);
  const run = randomUUID().slice(0, 8);
  const prefixes = new Set<string>();
  const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';

  return {
    url,
    version,
    private: !externalUrl,
    ...(server ? { pid: server.process.pid } : {}),
    prefix(name) {
      const prefix = `bench:${run}:${name}:`;
      prefixes.add(prefix);
      return prefix;
    },
    async usedMemory() {
      return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
    },
    async commandsProcessed() {
      return Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1]);
    },
    async prefixMemory(prefix) {
      let bytes = 0;
      let keys = 0;
      await scanPrefix(redis, prefix, async (batch) => {
        const pipeline = redis.pipeline();
        for (const key of batch) pipeline.memory('USAGE', key, 'SAMPLES', '0');
        for (const [error, usage] of (await pipeline.exec()) ?? []) {
          if (!error && typeof usage === 'number') bytes += usage;
        }
        keys += batch.length;
      });
      return { bytes, keys };
    },
    async close() {
      try {
        // Only the bench's own keys: never FLUSHDB/FLUSHALL, the server may be shared.
        for (const prefix of prefixes) await scanPrefix(redis, prefix, async (batch) => void (await redis.del(...batch)));
      } finally {
        redis.disconnect();
        await server?.process.stop(2_000);
      }
    },
  };
}
