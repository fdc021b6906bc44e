import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';
import { findFreePort } from './ports.js';

/** The shared Redis the integration tests run against. */
export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test or test run uses, so tests can share one Redis. */
export function uniquePrefix(name: string): string {
  return `test:${name}:${randomUUID().slice(0, 8)}:`;
}

/** Removes every key under `prefix` from the shared Redis. */
export async function deleteKeysWithPrefix(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 })) {
      await Promise.all((keys as string[]).map((key) => redis.del(key)));
    }
  } finally {
    await redis.quit();
  }
}

/**
 * A MONITOR connection to the shared Redis, which tells of every command any client sends
 * (`monitor` events: time, arguments, database and source, `lua` for a script's own), closed
 * after the test. Commands of other clients that Redis sends in the same packet as MONITOR's OK
 * reach ioredis before it counts itself monitoring, and it reports each as an error (which
 * would fail its own `monitor()`): ignored here, as those came before the test's.
 */
export async function monitorCommands(): Promise<Redis> {
  const monitor = await openMonitor();
  onTestFinished(() => monitor.disconnect());
  return monitor;
}

/** The same connection for a caller that closes it itself (a file's whole run, say); to a private server at `url`. */
export async function openMonitor(url = redisUrl): Promise<Redis> {
  const monitor = new Redis(url, { monitor: true });
  monitor.on('error', () => undefined);
  // Not events.once: it would reject on those errors.
  await new Promise((resolve) => monitor.once('monitoring', resolve));
  return monitor;
}

export { findFreePort };

export interface RedisServer {
  port: number;
  url: string;
  /** Ends the server, as an outage would; its data is gone. */
  stop(): Promise<void>;
  /** Starts an empty server on the same port again. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP), as a Redis that hangs: its connections stay open, nothing is answered. */
  pause(): void;
  /** Lets a frozen server go on (SIGCONT): it answers what waited, then all else. */
  resume(): void;
}

export interface RedisServerOptions {
  /** A configuration file, read before the arguments (a Sentinel needs one it can rewrite). */
  configFile?: string;
  /** More arguments: `--requirepass …`, `--cluster-enabled yes`, `--sentinel`… */
  args?: string[];
  /** The password PING needs, to tell that the server is up. */
  password?: string;
}

/**
 * A private, throwaway redis-server on a free loopback port, for tests that take Redis down
 * (which they must never do to the shared one). Nothing is persisted.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await findFreePort();
  let child: ChildProcess | undefined;

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,

    async start() {
      if (child) throw new Error(`redis-server on port ${port} is already running`);
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir(), ...(options.args ?? [])];
      child = spawn('redis-server', options.configFile ? [options.configFile, ...args] : args, { stdio: 'ignore' });
      try {
        await waitForPong(port, child, options.password);
      } catch (error) {
        await server.stop();
        throw error;
      }
    },

    pause() {
      child?.kill('SIGSTOP');
    },

    resume() {
      child?.kill('SIGCONT');
    },

    async stop() {
      const running = child;
      if (!running) return;
      child = undefined;
      if (running.exitCode === null && running.signalCode === null) {
        const exited = once(running, 'exit');
        running.kill('SIGKILL');
        await exited;
      }
    },
  };

  await server.start();
  return server;
}

export interface RedisPassage {
  /** Where a client connects to reach the server through the passage. */
  url: string;
  /** Pauses the server just before the passage passes on the next command whose bytes match `command`; resolves then. */
  pauseAt(command: RegExp): Promise<void>;
  /**
   * Drops the connection instead of passing on the next command whose bytes match `command`
   * (and any sent with it), as when Redis goes away: the command never runs. Resolves then.
   */
  cutAt(command: RegExp): Promise<void>;
  /**
   * Passes on the next command whose bytes match `command` (and any sent with it), then drops the
   * connection as Redis answers, before the answer reaches the client: the command ran, and the
   * client cannot know. Resolves when the command is passed on.
   */
  cutAfter(command: RegExp): Promise<void>;
  /**
   * Has Redis sleep (DEBUG SLEEP) for `seconds` just before it runs the next command whose bytes
   * match `command`: that command and every other client's wait, the server answering nothing,
   * as a Redis stalled by a slow command or a fork. The server needs `enable-debug-command`.
   * Resolves when the sleep is sent.
   */
  sleepAt(command: RegExp, seconds: number): Promise<void>;
  /**
   * A barrier: holds Redis's answers on each connection that sends a command whose bytes match
   * `command`, from that command on, until `count` such commands have been sent (on any
   * connection); then lets them all through. Requests that read the same key all read it before
   * any of them goes on. They must come from different clients (broker instances): on one
   * connection, holding the first's answers would hold the others' too. Resolves once released.
   */
  holdAnswersUntil(command: RegExp, count: number): Promise<void>;
  /**
   * Holds back, on each connection, the next command whose bytes match `command` and every
   * command after it, as a client that has not reached Redis yet, until the returned function
   * lets them through in their order (and all after them).
   */
  holdCommands(command: RegExp): () => void;
  close(): Promise<void>;
}

/** A barrier of the passage: the connections whose answers wait, and what releases them. */
interface AnswerBarrier {
  command: RegExp;
  left: number;
  held: Set<() => void>;
  released: () => void;
}

/** What the passage does to the command it waits for. */
type PassageFault = 'pause' | 'cut' | 'cutAfter' | 'sleep';

/** A private redis-server (startRedisServer) and a passage to it, for a broker whose Redis a test fails midway; `stop` ends both. */
export async function startRedisBehindPassage(options: RedisServerOptions = {}): Promise<{ redis: RedisServer; passage: RedisPassage; stop(): Promise<void> }> {
  const redis = await startRedisServer(options);
  const passage = await startRedisPassage(redis);
  return {
    redis,
    passage,
    async stop() {
      await passage.close();
      await redis.stop();
    },
  };
}

/**
 * A TCP passage to `server` that can fail it in the middle of a request, just before it passes
 * on a chosen command: pausing the server there, so that this command and all after it wait
 * unanswered while those before it were answered, as when Redis hangs midway (a test resumes
 * the server itself); or dropping the connection there, so that the command is lost, as when
 * Redis goes away midway (the client connects again by itself).
 */
export async function startRedisPassage(server: RedisServer): Promise<RedisPassage> {
  let armed: { command: RegExp; fault: PassageFault; reached: () => void; seconds?: number } | undefined;
  let barrier: AnswerBarrier | undefined;
  let commandHold: { command: RegExp; held: Set<() => void> } | undefined;
  const sockets = new Set<Socket>();
  const passage = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: server.port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    const passOn: Record<PassageFault | 'none', (bytes: Buffer) => void> = {
      none: (bytes) => upstream.write(bytes),
      pause: (bytes) => {
        server.pause();
        upstream.write(bytes);
      },
      cut: () => {
        client.destroy();
        upstream.destroy();
      },
      cutAfter: (bytes) => {
        upstream.write(bytes);
        // Before the listener that passes answers on, which then finds the client gone.
        upstream.prependOnceListener('data', () => {
          client.destroy();
          upstream.destroy();
        });
      },
      // On the command's own connection, so that Redis runs the sleep first; its answer skipped,
      // so that the client reads only answers to what it sent.
      sleep: (bytes) => upstream.write(Buffer.concat([Buffer.from(`CLIENT REPLY SKIP\r\nDEBUG SLEEP ${sleepSeconds}\r\n`), bytes])),
    };
    let heldAnswers: Buffer[] | undefined;
    const letAnswersThrough = () => {
      for (const bytes of heldAnswers ?? []) client.write(bytes);
      heldAnswers = undefined;
    };
    const atBarrier = (bytes: Buffer) => {
      const waiting = barrier;
      // Commands sent together arrive in one chunk: each counts.
      const matches = waiting ? (bytes.toString('latin1').match(new RegExp(waiting.command.source, `${waiting.command.flags.replace('g', '')}g`)) ?? []).length : 0;
      if (!waiting || !matches) return;
      waiting.left -= matches;
      if (waiting.left > 0) {
        heldAnswers ??= [];
        waiting.held.add(letAnswersThrough);
        return;
      }
      barrier = undefined;
      for (const release of waiting.held) release();
      waiting.released();
    };
    let sleepSeconds = 0;
    let heldCommands: Buffer[] | undefined;
    const letCommandsThrough = () => {
      const commands = heldCommands ?? [];
      heldCommands = undefined;
      for (const bytes of commands) client.emit('data', bytes);
    };
    client.on('data', (bytes: Buffer) => {
      if (!heldCommands && commandHold?.command.test(bytes.toString('latin1'))) {
        heldCommands = [];
        commandHold.held.add(letCommandsThrough);
      }
      if (heldCommands) {
        heldCommands.push(bytes);
        return;
      }
      const reached = armed?.command.test(bytes.toString('latin1')) ? armed : undefined;
      if (reached) armed = undefined;
      sleepSeconds = reached?.seconds ?? 0;
      atBarrier(bytes);
      passOn[reached?.fault ?? 'none'](bytes);
      reached?.reached();
    });
    upstream.on('data', (bytes: Buffer) => {
      // An answer the passage cuts off (cutAfter) goes nowhere: its listener has destroyed the client.
      if (client.destroyed) return;
      if (heldAnswers) heldAnswers.push(bytes);
      else client.write(bytes);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  passage.listen(0, '127.0.0.1');
  await once(passage, 'listening');
  const { port } = passage.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    pauseAt: (command) => new Promise((reached) => (armed = { command, fault: 'pause', reached })),
    cutAt: (command) => new Promise((reached) => (armed = { command, fault: 'cut', reached })),
    cutAfter: (command) => new Promise((reached) => (armed = { command, fault: 'cutAfter', reached })),
    sleepAt: (command, seconds) => new Promise((reached) => (armed = { command, fault: 'sleep', reached, seconds })),
    holdAnswersUntil: (command, count) => new Promise((released) => (barrier = { command, left: count, held: new Set(), released })),
    holdCommands(command) {
      const hold = { command, held: new Set<() => void>() };
      commandHold = hold;
      return () => {
        if (commandHold === hold) commandHold = undefined;
        for (const release of hold.held) release();
      };
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      passage.close();
      await once(passage, 'close');
    },
  };
}

async function waitForPong(port: number, child: ChildProcess, password: string | undefined, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await answersPing(port, { password }))) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A raw PING (after AUTH, with a password), so that waiting for the server involves no client library and its retries. */
export function answersPing(port: number, { host = '127.0.0.1', password }: { host?: string; password?: string } = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const finish = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write(`${password === undefined ? '' : `AUTH ${password}\r\n`}PING\r\n`));
    let answer = '';
    socket.on('data', (data) => {
      answer += data.toString();
      if (answer.includes('+PONG') || answer.includes('-')) finish(answer.includes('+PONG'));
    });
  });
}

/**
 * The counts of rate limit `limit` in the store under `prefix`, by `<ip|client>:<address or id>`,
 * summed over the windows they were counted in.
 */
export async function rateLimitCounts(prefix: string, limit: string, url = redisUrl): Promise<Record<string, number>> {
  const redis = new Redis(url);
  try {
    const counts: Record<string, number> = {};
    for await (const keys of redis.scanStream({ match: `${prefix}ratelimit:${limit}:*`, count: 1000 })) {
      for (const key of keys as string[]) {
        const counted = key.slice(`${prefix}ratelimit:${limit}:`.length).replace(/^\d+:/, '');
        counts[counted] = (counts[counted] ?? 0) + Number(await redis.get(key));
      }
    }
    return counts;
  } finally {
    await redis.quit();
  }
}
