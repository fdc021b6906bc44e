import { Redis } from 'ioredis';
import type { AuditEvent } from '../../src/audit/events.js';
import { createLogger, type Logger } from '../../src/log.js';
import { sharedSecret } from '../../src/oidc/keys.js';
import { Sealer } from '../../src/store/sealed-store.js';
import type { Store } from '../../src/store/store.js';

export type { AuditEvent };
import { redisUrl } from './redis.js';

/** The broker's logger at `level` (info unless told), keeping every line it writes. */
export function capturingLog(level = 'info'): { log: Logger; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const raw: string[] = [];
  const log = createLogger(level, { write: (line: string) => raw.push(line) });
  return { log, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>), text: () => raw.join('') };
}

/** The audit events in the built-in Redis stream of the broker with key prefix `prefix`, oldest first. */
export async function auditStream(prefix: string, url = redisUrl, key = 'audit:events'): Promise<AuditEvent[]> {
  const redis = new Redis(url);
  try {
    const entries = await redis.xrange(`${prefix}${key}`, '-', '+');
    return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('event') + 1]!) as AuditEvent);
  } finally {
    redis.disconnect();
  }
}

/** Waits, a bounded time, until `condition` holds. */
export async function eventually<T>(condition: () => Promise<T | undefined | false> | T | undefined | false, attempts = 100, everyMs = 100): Promise<T> {
  for (let i = 0; i < attempts; i += 1) {
    const value = await condition();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error('the condition never held');
}

/** A scrape of /metrics, read as Prometheus would. */
export class Scrape {
  constructor(readonly text: string) {}

  static async of(url: string, token?: string): Promise<Scrape> {
    const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
    return new Scrape(await response.text());
  }

  /** The sum of the samples of `name` whose labels include `labels` (0 when there is none). */
  value(name: string, labels: Record<string, string> = {}): number {
    let sum = 0;
    for (const line of this.text.split('\n')) {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const present = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      if (Object.entries(labels).every(([key, value]) => present[key] === value)) sum += Number(match[3]);
    }
    return sum;
  }
}

/** Every value the broker keeps under `prefix` in Redis, whatever the kind of key, as one text. */
export async function everythingStored(prefix: string, url = redisUrl): Promise<string> {
  const redis = new Redis(url);
  try {
    const dump: string[] = [];
    for (const key of await redis.keys(`${prefix}*`)) {
      const type = await redis.type(key);
      if (type === 'string') dump.push((await redis.get(key)) ?? '');
      if (type === 'hash') dump.push(JSON.stringify(await redis.hgetall(key)));
      if (type === 'set') dump.push(...(await redis.smembers(key)));
      if (type === 'zset') dump.push(...(await redis.zrange(key, '0', '-1')));
      if (type === 'stream') dump.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
    return dump.join('\n');
  } finally {
    redis.disconnect();
  }
}

/**
 * everythingStored, and what each base64 or base64url run in it reads as: a JWT's payload (the
 * request object oidc-provider keeps of a pushed request) or a base64 field holds a personal
 * number as readably as clear text does.
 */
export async function everythingReadable(prefix: string): Promise<string> {
  const stored = await everythingStored(prefix);
  const decoded = [...stored.matchAll(/[A-Za-z0-9+/_-]{16,}/g)].map(([run]) => Buffer.from(run, run.includes('+') || run.includes('/') ? 'base64' : 'base64url').toString('latin1'));
  return [stored, ...decoded].join('\n');
}

/** A value the broker sealed in `store` (encrypted at rest), opened with the key it keeps there. */
export async function openSealed(store: Store, sealed: string): Promise<string> {
  return new Sealer([await sharedSecret(store, 'store-encryption')]).open(sealed);
}
