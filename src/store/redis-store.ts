import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis, ReplyError } from 'ioredis';
import type { Logger } from '../log.js';
import { APPENDED_MARK_MS, BusyError, StoreFullError, StoreUnavailableError, type ConsumeResult, type CounterCount, type CounterIncrement, type Store, type StoredRecord } from './store.js';

export interface RedisStoreOptions {
  /** redis://[:password@]host:port/db or rediss://… */
  url?: string;
  sentinels?: Array<{ host: string; port: number }>;
  /** The master group name the sentinels watch; required with sentinels. */
  sentinel_name?: string;
  cluster?: Array<{ host: string; port: number }>;
  /** Used when `url` carries no password of its own. */
  password?: string;
  /** The password of the Sentinels themselves (their `requirepass`), when they have one. */
  sentinel_password?: string;
  /** Prefixes every key, e.g. 'neb:'. */
  key_prefix: string;
  command_timeout_ms: number;
}

/**
 * A store on Redis (a single server, Sentinel or Cluster) that fails fast: while Redis is
 * unreachable or slow, every operation rejects with StoreUnavailableError within the command
 * timeout instead of waiting in a queue, and the client keeps reconnecting in the background
 * so the store recovers by itself.
 *
 * A record is a hash with field `v` (the value) and, once consumed, `c` (consumedAt) and `k`
 * (the consume's claim, when it named one); a set is a Redis set. Every operation is one
 * command or one Lua script on a single key, which makes it atomic on Cluster too without
 * hash tags; incrementAll and the leases of one turn of the event loop (LeaseBatches) alone run
 * one script over several keys, on a single Redis only.
 */
export function createRedisStore(options: RedisStoreOptions, log: Logger, observe?: CommandObserver): Store {
  assertOneTarget(options);
  const target = describeTarget(options);
  const client = connect(options);

  // Connection events repeat on every reconnect attempt; only a change of state is news.
  let reachable: boolean | undefined;
  let lastError: string | undefined;
  let closing = false;
  /** Whether Redis refused the last write that ended (its maxmemory reached): set by a refusal, cleared by a write taken. */
  let full = false;
  client.on('error', (error: Error) => {
    lastError = error.message;
  });
  client.on('ready', () => {
    if (reachable !== true) {
      log.info({ redis: target }, reachable === false ? 'Redis is reachable again' : 'Connected to Redis');
    }
    if (reachable === undefined) void warnUnlessNoEviction(client, log);
    reachable = true;
    lastError = undefined;
  });
  client.on('close', () => {
    if (closing || reachable === false) return;
    log.warn({ redis: target, reason: lastError }, 'Redis is unreachable; store operations fail until it is back');
    reachable = false;
  });
  reconnectWhenGivenUp(client, () => closing);
  const silence = new Silence(() => run('ping', () => pingEveryMaster(client)), () => closing);
  const subscriptions = new Subscriptions(client, options.command_timeout_ms);
  const leases = new LeaseBatches((keys, ttlMs) => run('lease', () => takeLeases(client, keys, ttlMs)));
  const clock = new RedisClock(() => run('time', () => client.serverTime(CLOCK_KEY)), () => closing);
  client.on('ready', () => clock.read());

  /** One store operation: failing fast, and timed for the metrics when someone observes. */
  async function run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let failed = true;
    try {
      const result = await followingRedirects(client, () => failFast(command, options.command_timeout_ms));
      failed = false;
      silence.answered();
      if (GROWING_OPERATIONS.has(operation)) full = false;
      return result;
    } catch (error) {
      silence.failed(error);
      if (error instanceof StoreFullError) full = true;
      throw error;
    } finally {
      observe?.(operation, (performance.now() - started) / 1000, failed);
    }
  }

  /**
   * Every counter in one script; on a Cluster one script per counter, as its keys may live in
   * different slots. A script of one counter names its key first (numberOfKeys 1): on a Cluster,
   * ioredis's auto-pipelining picks the node by a command's first argument.
   */
  async function incrementAll(counters: readonly CounterIncrement[], ttlSeconds: number): Promise<CounterCount[]> {
    if (counters.length === 0) return [];
    const ttlMillis = String(Math.round(ttlSeconds * 1000));
    const groups = client instanceof Cluster ? counters.map((counter) => [counter]) : [counters];
    const send = (group: readonly CounterIncrement[]) =>
      group.length === 1
        ? client.incrementCounter(...incrementArguments(group, ttlMillis))
        : client.incrementCounters(String(group.length), ...incrementArguments(group, ttlMillis));
    const replies = await run('increment', () => Promise.all(groups.map(send)));
    return replies.flatMap(countsOf);
  }

  return {
    async get(key) {
      const fields = await run('get', () => client.hgetall(key));
      if (fields.v === undefined) return undefined;
      const record: StoredRecord = { value: fields.v };
      if (fields.c !== undefined) record.consumedAt = Number(fields.c);
      return record;
    },

    async set(key, value, ttlSeconds) {
      await run('set', () => client.writeRecord(key, value, ttlArgument(ttlSeconds)));
    },

    async replace(key, value, ttlSeconds) {
      return (await run('replace', () => client.replaceRecord(key, value, ttlArgument(ttlSeconds)))) ?? undefined;
    },

    async setIfAbsent(key, value, ttlSeconds) {
      return (await run('setIfAbsent', () => client.writeRecordIfAbsent(key, value, ttlArgument(ttlSeconds)))) === 1;
    },

    async update(key, value, ttlSeconds) {
      return (await run('update', () => client.writeRecordIfPresent(key, value, ttlArgument(ttlSeconds)))) === 1;
    },

    lease: (key, ttlMs) => leases.take(key, ttlMs),

    async claimLease(key, claim, ttlMs) {
      return run('claimLease', async () => (await client.set(key, claim, 'PX', ttlMs, 'NX')) === 'OK' || (await client.get(key)) === claim);
    },

    async consume(key, at, claim) {
      return run('consume', () => client.consumeRecord(key, String(at), claim ?? ''));
    },

    async release(key, claim) {
      await run('release', () => client.releaseRecord(key, claim));
    },

    async delete(...keys) {
      // One DEL per key: a multi-key DEL fails on Cluster when the keys live in different slots.
      await run('delete', () => Promise.all(keys.map((key) => client.del(key))));
    },

    async addToSet(key, member, ttlSeconds) {
      await run('addToSet', () => client.addSetMember(key, member, ttlArgument(ttlSeconds)));
    },

    async members(key) {
      return run('members', () => client.smembers(key));
    },

    async removeFromSet(key, member) {
      await run('removeFromSet', () => client.srem(key, member));
    },

    async increment(key, ttlSeconds, by = 1, ttlAbove) {
      const [count] = await incrementAll([{ key, by, ttlAbove }], ttlSeconds);
      return count!;
    },

    incrementAll,

    async appendToStream(key, entries, maxLength, batch) {
      // One script for the whole batch: the same XADD for each entry as a pipeline of XADDs
      // would send, at the cost of one command to the client rather than one per entry.
      const mark = appendedMarkKey(options.key_prefix, key, batch);
      await run('appendToStream', () => client.appendEntries(key, mark, String(APPENDED_MARK_MS), ...appendArguments(entries, maxLength)));
    },

    async readStream(key, count) {
      const entries = await run('readStream', () => client.xrevrange(key, '+', '-', 'COUNT', count));
      return entries.reverse().map(([, flat]) => {
        const fields: Record<string, string> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
        return fields;
      });
    },

    async track(key, members, ttlSeconds) {
      const ttlMillis = Math.round(ttlSeconds * 1000);
      await run('track', () => client.trackMembers(key, String(Date.now() + ttlMillis), String(ttlMillis), ...members));
    },

    async untrack(key, members) {
      await run('untrack', () => client.zrem(key, ...members));
    },

    async countTracked(key) {
      return run('countTracked', () => client.countTracked(key, String(Date.now())));
    },

    async publish(channel, message) {
      // keyPrefix applies to keys only; channels get the prefix here, so brokers sharing a Redis stay apart.
      await run('publish', () => client.publish(`${options.key_prefix}${channel}`, message));
    },

    async subscribe(channel, onMessage, onMissed) {
      return subscriptions.add(`${options.key_prefix}${channel}`, onMessage, onMissed);
    },

    async schedule(key, member, dueAtMs) {
      await run('schedule', () => client.zadd(key, String(dueAtMs), member));
    },

    async takeDue(key, limit, leaseMs) {
      const now = clock.now();
      return run('takeDue', () => client.takeDue(key, String(now), String(limit), String(now + leaseMs)));
    },

    async unschedule(key, member) {
      await run('unschedule', () => client.zrem(key, member));
    },

    async countScheduled(key) {
      return run('countScheduled', () => client.zcard(key));
    },

    get available() {
      return client.status === 'ready';
    },

    get answering() {
      return client.status === 'ready' && !silence.silent && !full;
    },

    async ping() {
      await run('ping', () => pingEveryMaster(client));
    },

    now: () => clock.now(),

    async justStarted() {
      return (await run('justStarted', () => shortestUptimeSeconds(client))) < RECONNECTED_WITHIN_SECONDS;
    },

    async close() {
      closing = true;
      clock.stop();
      subscriptions.close();
      // QUIT waits for Redis's answer: a Redis that hangs gets the command timeout, then the
      // connection is dropped, so that a shutdown ends within its time however Redis is.
      try {
        await withDeadline(client.quit(), options.command_timeout_ms);
      } catch {
        client.disconnect();
      }
    },
  };
}

/**
 * The store's operations that a Redis at its maxmemory refuses: they may add to what it holds.
 * One answered says Redis takes writes again; any other (a read, a delete, a release) it answers
 * while full.
 */
const GROWING_OPERATIONS: ReadonlySet<string> = new Set([
  'set', 'replace', 'setIfAbsent', 'update', 'lease', 'claimLease', 'consume', 'addToSet', 'increment', 'appendToStream', 'track', 'schedule', 'takeDue',
]);

/** A Cluster's answer that a key's slot is served by another node (MOVED) or moving to one (ASK): the command did not run. */
const REDIRECT_REPLY = /^(MOVED|ASK) /;
/**
 * ioredis's own error for an auto-pipeline it was sending again after a redirect when the slot
 * map, updated meanwhile, put its keys on two masters (a resharding moved one of its slots, not
 * the other). It sends one again only when its commands that ran were reads, so nothing in it
 * wrote: it is sent again like a redirected command. It failed every command of the pipeline as
 * the store unavailable: a login's page answered 503 while the Cluster was healthy.
 */
const SPLIT_PIPELINE_MESSAGE = 'All keys in the pipeline should belong to the same slots allocation group';

/** Whether `error` says the command did not run because its slot is, or is about to be, served elsewhere. */
function wasRedirected(error: unknown): boolean {
  if (error instanceof ReplyError) return REDIRECT_REPLY.test((error as Error).message);
  return error instanceof Error && error.message === SPLIT_PIPELINE_MESSAGE;
}

/** How many times a command is sent that a Cluster keeps redirecting, before it fails as the store unavailable. */
const REDIRECTED_TRIES = 5;

/**
 * Sends a command again that a Cluster redirected and ioredis gave back as an error. ioredis
 * follows MOVED and ASK for a command sent alone, and for an auto-pipeline whose commands all got
 * the same redirect; a pipeline whose commands fared differently (some ran, some were redirected
 * as their slots moved: a resharding) has the redirect given to each of those commands, which
 * answered 500 and lost a login at its step. A redirected command did not run, so sending it
 * again is safe; the slot map is read first. One still redirected fails as an outage (503).
 */
function followingRedirects<T>(client: StoreClient, send: () => Promise<T>, tries = 1): Promise<T> {
  // A catch step rather than an async loop: the answered command, nearly every one, pays no extra await.
  return send().catch(async (error: unknown) => {
    if (!wasRedirected(error)) throw error;
    if (tries === REDIRECTED_TRIES) throw new StoreUnavailableError(error);
    if (client instanceof Cluster) await new Promise<void>((resolve) => client.refreshSlotsCache(() => resolve()));
    return followingRedirects(client, send, tries + 1);
  });
}

/**
 * The key whose server tells the time (RedisClock): never written; it routes the script, so that
 * on a Cluster every instance asks the same master.
 */
const CLOCK_KEY = 'clock';
/** How often the clock's offset is read again besides on each connect: hosts' clocks drift, and are stepped. */
const CLOCK_READ_INTERVAL_MS = 60_000;

/**
 * Redis's clock, as this process reads it: the offset of Redis's TIME from this host's clock,
 * taken halfway through the round trip, on each connect and every CLOCK_READ_INTERVAL_MS. Every
 * instance reads the one clock, so a time one writes and another counts from means the same to
 * both, however far apart their hosts' clocks are. Until the first reading, and when one fails,
 * the last offset stands (none: this host's clock).
 */
class RedisClock {
  #offsetMs = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly time: () => Promise<[string, string]>,
    private readonly closing: () => boolean,
  ) {
    this.#timer = setInterval(() => this.read(), CLOCK_READ_INTERVAL_MS).unref();
  }

  now(): number {
    return Date.now() + this.#offsetMs;
  }

  read(): void {
    if (this.closing()) return;
    const sentAt = Date.now();
    this.time().then(
      ([seconds, micros]) => {
        this.#offsetMs = Math.round(Number(seconds) * 1000 + Number(micros) / 1000 - (sentAt + Date.now()) / 2);
      },
      () => undefined,
    );
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** How long the probe of a silent Redis pauses between its pings. */
const SILENCE_PROBE_PAUSE_MS = 100;

/**
 * Whether Redis has gone silent: a command got no answer in time, and none has come since. A
 * Redis that hangs (stopped, its host stalled, CLIENT PAUSE) keeps its connections open, so the
 * client's status alone called it available: /api/status said OK and neb_store_available 1 while
 * every request waited out the command timeout. While silent, a ping is sent again and again
 * until one is answered, so the store is said to answer again as soon as Redis does, however
 * few requests come meanwhile.
 */
class Silence {
  #silent = false;
  #probing = false;

  constructor(
    private readonly ping: () => Promise<void>,
    private readonly closing: () => boolean,
  ) {}

  get silent(): boolean {
    return this.#silent;
  }

  answered(): void {
    this.#silent = false;
  }

  /** A command failed: Redis answered it (an error reply) or did not (a timeout); a connection that is not there is the client's status. */
  failed(error: unknown): void {
    if (error instanceof ReplyError || error instanceof StoreFullError) this.answered();
    else if (error instanceof StoreUnavailableError && error.cause instanceof NoAnswerError) this.#fellSilent();
  }

  #fellSilent(): void {
    this.#silent = true;
    if (this.#probing) return;
    this.#probing = true;
    void this.#probe();
  }

  async #probe(): Promise<void> {
    while (this.#silent && !this.closing()) {
      await this.ping().catch(() => undefined);
      if (this.#silent) await sleep(SILENCE_PROBE_PAUSE_MS, undefined, { ref: false });
    }
    this.#probing = false;
  }
}

/** What a command that got no answer within the command timeout failed with (as the cause of a StoreUnavailableError). */
class NoAnswerError extends Error {
  constructor(timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
    this.name = 'NoAnswerError';
  }
}

/**
 * The store's pub/sub: a subscribed Redis connection can do nothing else, so subscriptions get
 * a connection of their own, opened at the first subscribe. The connection queues commands
 * while Redis is away and resubscribes by itself after a reconnect; a caller waits for its
 * subscribe or unsubscribe no longer than the command timeout.
 */
class Subscriptions {
  readonly #client: StoreClient;
  readonly #timeoutMs: number;
  #subscriber: Redis | Cluster | undefined;
  /** Each channel's handlers, and the subscription they wait for (every caller, not just the first). */
  readonly #channels = new Map<string, { handlers: Set<(message: string) => void>; subscribed: Promise<void> }>();
  /** Who is told when the subscriber connection is back after it dropped (see Store.subscribe). */
  readonly #missed = new Set<() => void>();
  #closed = false;

  constructor(client: StoreClient, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  async add(channel: string, onMessage: (message: string) => void, onMissed?: () => void): Promise<() => Promise<void>> {
    const subscriber = this.#connection();
    let entry = this.#channels.get(channel);
    if (!entry) {
      // Within the command timeout, as every store operation: a page that waits on a channel is
      // answered 503 while Redis hangs, never held. SUBSCRIBE still goes when Redis moves again.
      const subscribed = withDeadline(subscriber.subscribe(channel), this.#timeoutMs).then(() => undefined);
      const created = { handlers: new Set<(message: string) => void>(), subscribed };
      // A subscription that failed is asked for again by the next caller.
      created.subscribed.catch(() => this.#channels.get(channel) === created && this.#channels.delete(channel));
      this.#channels.set(channel, created);
      entry = created;
    }
    await entry.subscribed;
    const { handlers } = entry;
    handlers.add(onMessage);
    if (onMissed) this.#missed.add(onMissed);
    return async () => {
      handlers.delete(onMessage);
      if (onMissed) this.#missed.delete(onMissed);
      if (handlers.size || this.#channels.get(channel) !== entry) return;
      this.#channels.delete(channel);
      // Not waited for past the command timeout: an eID closing at shutdown unsubscribes, and a
      // Redis that hangs must not hold the exit. A channel left subscribed has no handler here.
      await withDeadline(subscriber.unsubscribe(channel), this.#timeoutMs).catch(() => undefined);
    };
  }

  close(): void {
    this.#closed = true;
    this.#subscriber?.disconnect();
    this.#channels.clear();
    this.#missed.clear();
  }

  #connection(): Redis | Cluster {
    if (this.#subscriber) return this.#subscriber;
    const waiting = { enableOfflineQueue: true, autoResubscribe: true };
    const subscriber = this.#client instanceof Cluster ? this.#client.duplicate(undefined, waiting) : this.#client.duplicate(waiting);
    subscriber.on('error', () => undefined); // the main connection reports Redis being away
    reconnectWhenGivenUp(subscriber, () => this.#closed);
    subscriber.on('message', (channel: string, message: string) => {
      for (const handler of this.#channels.get(channel)?.handlers ?? []) handler(message);
    });
    // Redis keeps no messages for a subscriber that is away (or restarted empty): once the
    // connection is back, its subscribers look up what they may have missed. Told on the next
    // turn, after ioredis has sent the SUBSCRIBEs again (right after 'ready').
    let dropped = false;
    subscriber.on('close', () => (dropped = true));
    subscriber.on('ready', () => {
      if (!dropped) return;
      dropped = false;
      setImmediate(() => {
        for (const onMissed of this.#missed) onMissed();
      });
    });
    this.#subscriber = subscriber;
    return subscriber;
  }
}

/** The store's Lua scripts, by the name ioredis defines each one under on the client. */
interface ScriptCommands {
  writeRecord(key: string, value: string, ttlMillis: string): Promise<unknown>;
  writeRecordIfAbsent(key: string, value: string, ttlMillis: string): Promise<number>;
  writeRecordIfPresent(key: string, value: string, ttlMillis: string): Promise<number>;
  replaceRecord(key: string, value: string, ttlMillis: string): Promise<string | null>;
  consumeRecord(key: string, at: string, claim: string): Promise<ConsumeResult>;
  releaseRecord(key: string, claim: string): Promise<unknown>;
  addSetMember(key: string, member: string, ttlMillis: string): Promise<unknown>;
  /** incrementArguments' list after the number of keys: the keys, the lifetime, then `by` and `ttlAbove` of each key. */
  incrementCounters(numberOfKeys: string, ...args: string[]): Promise<number[]>;
  /** The same script for one key, named first. */
  incrementCounter(...args: string[]): Promise<number[]>;
  trackMembers(key: string, expiresAtMillis: string, ttlMillis: string, ...members: string[]): Promise<unknown>;
  countTracked(key: string, nowMillis: string): Promise<number>;
  takeDue(key: string, nowMillis: string, limit: string, leasedUntilMillis: string): Promise<string[]>;
  /** The number of keys, the keys, then the lease's lifetime in ms: 1 for each lease taken, 0 for each held already. */
  takeLeases(numberOfKeys: string, ...args: string[]): Promise<number[]>;
  /** Redis's TIME (seconds, microseconds), from the server that holds `key`. */
  serverTime(key: string): Promise<[string, string]>;
  /** The stream's key, the key of the append's mark (appendedMarkKey), the mark's lifetime in ms, then appendArguments' list. */
  appendEntries(key: string, mark: string, markMillis: string, ...args: string[]): Promise<unknown>;
}

/**
 * The key of the mark that the append named `batch` was made to the stream at `key`, in the
 * stream's Cluster slot (a script's keys must share one): beside the stream's own hash tag when
 * its full name (with the prefix) has one, else under its full name made the tag.
 */
function appendedMarkKey(prefix: string, key: string, batch: string): string {
  const suffix = `:appended:${batch}`;
  return hasHashTag(prefix + key) ? key + suffix : `{${prefix}${key}}${suffix}`;
}

/** Whether Redis Cluster hashes `key` by a part of it (its first `{…}` with something inside) rather than the whole. */
function hasHashTag(key: string): boolean {
  const open = key.indexOf('{');
  return open >= 0 && key.indexOf('}', open + 1) > open + 1;
}

/** The stream's length limit, then each entry: its number of fields, then its names and values in turn. */
function appendArguments(entries: ReadonlyArray<Record<string, string>>, maxLength: number): string[] {
  const args = [String(maxLength)];
  for (const fields of entries) {
    const at = args.push('');
    let count = 0;
    for (const name in fields) {
      args.push(name, fields[name]!);
      count += 1;
    }
    args[at - 1] = String(count);
  }
  return args;
}

/** Told how long each store operation took, and whether it failed (the Redis command latency metric). */
export type CommandObserver = (operation: string, seconds: number, failed: boolean) => void;

type StoreClient = (Redis | Cluster) & ScriptCommands;

// ARGV[2] is the lifetime in milliseconds, or '' for no expiry.
const WRITE_RECORD = `
redis.call('HSET', KEYS[1], 'v', ARGV[1])
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
`;

// For each key: the first increment starts the window (INCRBY returning `by` means the counter
// is new, or was given back to zero: then it restarts, having counted nothing). At or below its
// `ttlAbove` the lifetime is not asked for (-1 in the answer). A counter left without one (never,
// but a PERSIST by hand) gets it again once it passes `ttlAbove`, rather than counting forever.
// The answer: count and lifetime of each key in turn.
const INCREMENT_COUNTERS = `
local window = tonumber(ARGV[1])
local answer = {}
for i, key in ipairs(KEYS) do
  local by = tonumber(ARGV[2 * i])
  local above = ARGV[2 * i + 1]
  local count = redis.call('INCRBY', key, by)
  local ttl = -1
  if count == by then
    redis.call('PEXPIRE', key, window)
    ttl = window
  elseif above == '' or count > tonumber(above) then
    ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, window)
      ttl = window
    end
  end
  answer[2 * i - 1] = count
  answer[2 * i] = ttl
end
return answer
`;

// An XADD for each entry of appendArguments' list (after the mark's lifetime), each trimming as a
// lone XADD ... MAXLEN ~ does; nothing when the append's mark is there already (it ran before).
const APPEND_ENTRIES = `
if not redis.call('SET', KEYS[2], '', 'PX', ARGV[1], 'NX') then return end
local i = 3
while i <= #ARGV do
  local xadd = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*'}
  local last = i + 2 * tonumber(ARGV[i])
  for j = i + 1, last do xadd[#xadd + 1] = ARGV[j] end
  redis.call(unpack(xadd))
  i = last + 1
end
`;

/** numberOfKeys absent: the caller passes the number of keys first (a script over any number of keys). */
const SCRIPTS: Record<keyof ScriptCommands, { lua: string; numberOfKeys?: 1 | 2 }> = {
  // HSET leaves `c` alone, so a consumed record stays consumed when it is written again.
  writeRecord: { numberOfKeys: 1, lua: WRITE_RECORD },
  replaceRecord: {
    numberOfKeys: 1,
    lua: `local earlier = redis.call('HGET', KEYS[1], 'v')\n${WRITE_RECORD}\nreturn earlier`,
  },
  // Every record has its value in `v`, so HSETNX both tests for one and writes a new one; a new
  // key has no lifetime to PERSIST. Two commands rather than four: locks, leases, audit "once" marks.
  writeRecordIfAbsent: {
    numberOfKeys: 1,
    lua: `
if redis.call('HSETNX', KEYS[1], 'v', ARGV[1]) == 0 then return 0 end
if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`,
  },
  writeRecordIfPresent: {
    numberOfKeys: 1,
    lua: `if redis.call('HEXISTS', KEYS[1], 'v') == 0 then return 0 end\n${WRITE_RECORD}\nreturn 1`,
  },
  consumeRecord: {
    numberOfKeys: 1,
    lua: `
if redis.call('HEXISTS', KEYS[1], 'v') == 0 then return 'missing' end
if redis.call('HSETNX', KEYS[1], 'c', ARGV[1]) == 0 then return 'already' end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'k', ARGV[2]) end
return 'consumed'
`,
  },
  releaseRecord: {
    numberOfKeys: 1,
    lua: `
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'k') == ARGV[1] then redis.call('HDEL', KEYS[1], 'c', 'k') end
`,
  },
  // PTTL before SADD tells a new set (-2) from a persistent one (-1), which must stay persistent.
  addSetMember: {
    numberOfKeys: 1,
    lua: `
local remaining = redis.call('PTTL', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  redis.call('PERSIST', KEYS[1])
elseif remaining == -2 or (remaining >= 0 and remaining < tonumber(ARGV[2])) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
`,
  },
  // Rate-limit counters: any number of keys, or one key named first (incrementAll).
  incrementCounters: { lua: INCREMENT_COUNTERS },
  incrementCounter: { numberOfKeys: 1, lua: INCREMENT_COUNTERS },
  // Its key routes it: on a Cluster every instance asks the same master the time.
  serverTime: { numberOfKeys: 1, lua: `return redis.call('TIME')` },
  // The stream first, so a Cluster sends it to the stream's node; the mark shares its slot.
  appendEntries: { numberOfKeys: 2, lua: APPEND_ENTRIES },
  // A sorted set scored by each member's expiry; the key itself lives as long as its last member.
  // One ZADD for every member, each expiring at ARGV[1].
  trackMembers: {
    numberOfKeys: 1,
    lua: `
local zadd = {'ZADD', KEYS[1]}
for i = 3, #ARGV do
  zadd[#zadd + 1] = ARGV[1]
  zadd[#zadd + 1] = ARGV[i]
end
redis.call(unpack(zadd))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
`,
  },
  countTracked: {
    numberOfKeys: 1,
    lua: `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
`,
  },
  // A sorted set scored by when each member is due; taking a member leases it in the same step.
  takeDue: {
    numberOfKeys: 1,
    lua: `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], member) end
return due
`,
  },
  // SET NX PX on each key: what lease does for one key, for every lease asked in one turn.
  takeLeases: {
    lua: `
local taken = {}
for i, key in ipairs(KEYS) do taken[i] = redis.call('SET', key, '', 'PX', ARGV[1], 'NX') and 1 or 0 end
return taken
`,
  },
};

/**
 * Keys a script of leases takes at most: Redis runs nothing else while a script runs, and one
 * tick of waiting BankID logins asks for at most 64.
 */
const LEASES_PER_SCRIPT = 128;

/** Takes the leases at `keys`, in order: one script on a single Redis; one SET NX PX per key on a Cluster, whose keys live in different slots. */
async function takeLeases(client: StoreClient, keys: readonly string[], ttlMs: number): Promise<boolean[]> {
  if (client instanceof Cluster || keys.length === 1) {
    return Promise.all(keys.map(async (key) => (await client.set(key, '', 'PX', ttlMs, 'NX')) === 'OK'));
  }
  const taken = await client.takeLeases(String(keys.length), ...keys, String(ttlMs));
  return taken.map((one) => one === 1);
}

interface AskedLease {
  key: string;
  resolve: (taken: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * The leases asked for in one turn of the event loop, taken together once it ends: the collect
 * leases of every BankID order due in one tick (up to 64) cost one command, one deadline timer
 * and one metric observation, not one each. A lease still means the same: a key's SET NX PX,
 * atomic in Redis, so two callers asking for one key in one turn get one `true` between them.
 */
class LeaseBatches {
  /** The leases asked for in this turn, by lifetime (in practice one lifetime per eID). */
  #asked = new Map<number, AskedLease[]>();
  readonly #send: (keys: readonly string[], ttlMs: number) => Promise<boolean[]>;

  constructor(send: (keys: readonly string[], ttlMs: number) => Promise<boolean[]>) {
    this.#send = send;
  }

  take(key: string, ttlMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      if (this.#asked.size === 0) process.nextTick(() => this.#sendAll());
      let asked = this.#asked.get(ttlMs);
      if (!asked) this.#asked.set(ttlMs, (asked = []));
      asked.push({ key, resolve, reject });
    });
  }

  #sendAll(): void {
    const batches = this.#asked;
    this.#asked = new Map();
    for (const [ttlMs, asked] of batches) {
      for (let from = 0; from < asked.length; from += LEASES_PER_SCRIPT) this.#sendOne(asked.slice(from, from + LEASES_PER_SCRIPT), ttlMs);
    }
  }

  #sendOne(asked: readonly AskedLease[], ttlMs: number): void {
    this.#send(
      asked.map((one) => one.key),
      ttlMs,
    ).then(
      (taken) => asked.forEach((one, index) => one.resolve(taken[index]!)),
      (error: unknown) => asked.forEach((one) => one.reject(error)),
    );
  }
}

/**
 * ioredis by default queues commands while Redis is away and retries them for about 70 s;
 * the broker would hang every request meanwhile. These settings make a command fail at once
 * when there is no connection (the timeout when Redis does not answer is withDeadline's). A
 * command that was in flight when the connection dropped is failed too, never resent later,
 * since it may already have run (a consume resent after reconnecting would answer 'already').
 */
/** The reply of a server made a replica (by a failover) to a write. */
const DEMOTED_REPLY = /^READONLY\b/;

function failFastOptions(options: RedisStoreOptions) {
  return {
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    password: options.password,
    // A server that answers a write with READONLY was made a replica: connect again, to the
    // server the address (a managed Redis moves its name to the promoted one) or Sentinel names
    // now. Left on it, the client failed every write until the broker restarted. The command is
    // not sent again (1): it fails as Redis away does, and its request is answered 503.
    reconnectOnError: (error: Error) => (DEMOTED_REPLY.test(error.message) ? (1 as const) : false),
  };
}

function assertOneTarget({ url, sentinels, sentinel_name: sentinelName, cluster }: RedisStoreOptions): void {
  if ([url, sentinels, cluster].filter((target) => target !== undefined).length !== 1) {
    throw new Error('The Redis store needs exactly one of url, sentinels or cluster');
  }
  if (sentinels && !sentinelName) throw new Error('The Redis store needs sentinel_name with sentinels');
}

function connect(options: RedisStoreOptions): StoreClient {
  const { url, sentinels, sentinel_name: sentinelName, cluster } = options;
  // Auto-pipelining sends every command issued in one turn of the event loop in one write: the
  // collect leases of all BankID orders due in a tick, the reads of many concurrent requests.
  const common = { keyPrefix: options.key_prefix, scripts: SCRIPTS, enableOfflineQueue: false, enableAutoPipelining: true };
  // ioredis cannot type the commands it defines from `scripts`; SCRIPTS is checked against
  // ScriptCommands, which is what makes these casts sound.
  if (cluster) {
    return new Cluster(cluster, {
      ...common,
      clusterRetryStrategy: reconnectDelay,
      redisOptions: failFastOptions(options),
    }) as Cluster & ScriptCommands;
  }
  const redisOptions = { ...common, ...failFastOptions(options), retryStrategy: reconnectDelay };
  if (sentinels) {
    return new Redis({
      ...redisOptions,
      sentinels,
      name: sentinelName,
      sentinelPassword: options.sentinel_password,
      sentinelRetryStrategy: reconnectDelay,
      // Follows Sentinel's +switch-master at once. Without it the client stays on the old master
      // until that one is turned into a replica, which can take seconds and answers writes all the
      // while: codes and tokens written there are dropped when it resyncs from the new master.
      failoverDetector: true,
    }) as Redis & ScriptCommands;
  }
  return new Redis(url as string, redisOptions) as Redis & ScriptCommands;
}

/**
 * A round trip to every server the store needs. On a Cluster that is the master of every slot:
 * each holds a share of the keys, so one that is down fails every login whose keys it holds,
 * and the instance is not ready (a single PING would reach one random node). The slot map names
 * the masters; one that dropped its connection is no longer among the client's nodes.
 */
async function pingEveryMaster(client: StoreClient): Promise<void> {
  if (!(client instanceof Cluster)) {
    await client.ping();
    return;
  }
  const connected = new Map(client.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
  const slotMasters = new Set<string | undefined>();
  for (let slot = 0; slot < CLUSTER_SLOTS; slot += 1) slotMasters.add(client.slots[slot]?.[0]);
  await Promise.all(
    [...slotMasters].map((master) => {
      const node = master === undefined ? undefined : connected.get(master);
      if (!node) throw new StoreUnavailableError(`the cluster has no reachable master for some of its slots (${master ?? 'none'})`);
      return node.ping();
    }),
  );
}

const CLUSTER_SLOTS = 16_384;

/**
 * Redis evicting keys under memory pressure would drop codes, sessions and refresh tokens
 * without a word, so it must run with `maxmemory-policy noeviction` (then a full Redis refuses
 * writes, which the broker answers with 503). Managed Redis often refuses CONFIG: then the
 * policy cannot be known, and nothing is said.
 */
async function warnUnlessNoEviction(client: StoreClient, log: Logger): Promise<void> {
  const servers = client instanceof Cluster ? client.nodes('master') : [client];
  const policies = await Promise.all(
    servers.map((server) => server.config('GET', 'maxmemory-policy').then((reply) => (reply as string[])[1], () => undefined)),
  );
  const evicting = policies.find((policy) => policy !== undefined && policy !== 'noeviction');
  if (evicting) {
    log.warn({ maxmemory_policy: evicting }, 'Redis may evict keys (maxmemory-policy is not noeviction): logins and tokens could vanish. Set maxmemory-policy noeviction.');
  }
}

/** Capped exponential backoff that never gives up, so the store heals when Redis returns. */
/**
 * ioredis gives a connection up for good ('end') when its way to Redis fails outright rather
 * than Redis refusing: with Sentinel, a +switch-master that arrives while the client, its master
 * gone, is still asking a Sentinel where the master is. The client would then fail every
 * command until the process restarted, the subscriber would hear nothing; instead it connects
 * again, unless the store is closing (a close ends the connection too).
 */
function reconnectWhenGivenUp(client: Redis | Cluster, closing: () => boolean): void {
  client.on('end', () => {
    if (closing()) return;
    setTimeout(() => {
      if (!closing()) client.connect().catch(() => undefined);
    }, reconnectDelay(1)).unref();
  });
}

function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** (attempt - 1), MAX_RECONNECT_DELAY_MS) + Math.floor(Math.random() * 100);
}

const MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * How long after a Redis started every client it had before is connected again, at the latest:
 * the longest reconnect delay and its jitter, the connection and its subscriptions, with a
 * margin. Whole seconds, as Redis counts its uptime.
 */
const RECONNECTED_WITHIN_SECONDS = Math.ceil(MAX_RECONNECT_DELAY_MS / 1000) + 1;

/** Redis's uptime; on a Cluster, that of the master started last (one restarted empty lost its share of the keys). */
async function shortestUptimeSeconds(client: StoreClient): Promise<number> {
  const servers = client instanceof Cluster ? client.nodes('master') : [client];
  const uptimes = await Promise.all(servers.map(async (server) => Number(/^uptime_in_seconds:(\d+)/m.exec(await server.info('server'))?.[1] ?? Infinity)));
  return Math.min(...uptimes);
}

/** The increment scripts' arguments for `counters` after the number of keys, as ScriptCommands describes them. */
function incrementArguments(counters: readonly CounterIncrement[], ttlMillis: string): string[] {
  const perCounter = counters.flatMap(({ by = 1, ttlAbove }) => [String(by), ttlAbove === undefined ? '' : String(ttlAbove)]);
  return [...counters.map((counter) => counter.key), ttlMillis, ...perCounter];
}

/** incrementCounters' answer as counts: a lifetime of -1 was not asked for. */
function countsOf(reply: number[]): CounterCount[] {
  const counts: CounterCount[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) counts.push(reply[i + 1]! < 0 ? { count: reply[i]! } : { count: reply[i]!, ttlMs: reply[i + 1]! });
  return counts;
}

function ttlArgument(ttlSeconds: number | undefined): string {
  return ttlSeconds === undefined ? '' : String(Math.round(ttlSeconds * 1000));
}

/**
 * Redis refusing work for a while (loading its data set, a failover, a busy script, a full
 * memory) counts as unavailable like a lost connection does. Any other error reply is a bug
 * in the broker and is passed on as it is.
 */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|NOREPLICAS)\b/;
/** Redis at its maxmemory, refusing a write. */
const FULL_REPLY = /^OOM\b/;

async function failFast<T>(command: () => Promise<T>, timeoutMs: number): Promise<T> {
  try {
    return await withDeadline(command(), timeoutMs);
  } catch (error) {
    if (error instanceof StoreUnavailableError || wasRedirected(error)) throw error;
    if (error instanceof ReplyError && FULL_REPLY.test((error as Error).message)) throw new StoreFullError(error);
    const isErrorReply = error instanceof ReplyError && !TRANSIENT_REPLY.test((error as Error).message);
    // Every other failure comes from ioredis itself: no connection, a dropped socket.
    throw isErrorReply ? error : new StoreUnavailableError(error);
  }
}

/** How late a command's timer may run before the process counts as busy rather than Redis as slow. */
const LATE_TIMER_MS = 50;
/** How many more timeouts a command gets while the process stays busy, before it fails as busy. */
const BUSY_EXTENSIONS = 3;

/**
 * A command without an answer after `timeoutMs` fails as an outage of the store, unless the
 * process was too busy to have read the answer. Timers run before sockets are read, so when the
 * timer fires, Redis's answer may be waiting unread behind a long task or a long turn of other
 * requests: the verdict waits for this turn's reading of sockets (setImmediate runs after it),
 * and a command answered there succeeds. If the verdict then runs late, the process was busy (its
 * event loop lagged): the command gets another `timeoutMs`; if the process stays that busy, it
 * fails with BusyError, never as an outage.
 */
function withDeadline<T>(command: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let extensions = 0;
    let dueAt = performance.now() + timeoutMs;
    const judge = () => {
      if (settled) return;
      if (performance.now() - dueAt < LATE_TIMER_MS) return reject(new StoreUnavailableError(new NoAnswerError(timeoutMs)));
      if (extensions === BUSY_EXTENSIONS) return reject(new BusyError());
      extensions += 1;
      dueAt = performance.now() + timeoutMs;
      timer = setTimeout(expire, timeoutMs);
    };
    const expire = () => setImmediate(judge);
    let timer = setTimeout(expire, timeoutMs);
    command.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Where the store points, for logs; the URL loses its credentials. */
function describeTarget({ url, sentinels, sentinel_name: sentinelName, cluster }: RedisStoreOptions): string {
  const hosts = (nodes: Array<{ host: string; port: number }>) =>
    nodes.map(({ host, port }) => `${host}:${port}`).join(',');
  if (sentinels) return `sentinel ${sentinelName} via ${hosts(sentinels)}`;
  if (cluster) return `cluster ${hosts(cluster)}`;
  const parsed = new URL(url as string);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
