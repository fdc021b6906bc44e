import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Every process the bench starts: the broker, bare oidc-provider, the BankID simulator, Redis
 * and the load generators each run on their own. They are tracked here, so that they are all
 * ended when the bench ends, however it ends.
 */
const live = new Set<ChildProcess>();

/** The process ids of everything the bench runs now. */
export const livePids = (): number[] => [...live].flatMap((child) => (child.pid === undefined ? [] : [child.pid]));

process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface StartOptions {
  args?: string[];
  env?: Record<string, string | undefined>;
  /** Flags for node itself, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** The node binary (startNode), when not the bench's own: BENCH_NODE for the servers measured. */
  node?: string;
  /** A command node runs under (startNode), e.g. valgrind and its options: its words come before node's. */
  launcher?: string[];
  /** Where stdout and stderr go; without one they are kept in memory (the last 1 MB). */
  logFile?: string;
  /** An IPC channel, for load generators the bench steers while they run. */
  ipc?: boolean;
}

export interface BenchProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** What it printed, when not sent to a log file: stdout, then stderr. */
  output(): string;
  stdout(): string;
  /** Resolves with the first line of stdout that `match` accepts; rejects if the process exits first. */
  line(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (a broker then writes its CPU profile), SIGKILL if it is still there after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const KEEP_OUTPUT = 1 << 20;

export function startProcess(name: string, command: string, options: StartOptions = {}): BenchProcess {
  const logFd = options.logFile ? openSync(options.logFile, 'a') : undefined;
  const out = logFd ?? 'pipe';
  const child = spawn(command, options.args ?? [], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', out, out, ...(options.ipc ? (['ipc'] as const) : [])],
  });
  if (logFd !== undefined) closeSync(logFd);
  if (child.pid === undefined) throw new Error(`${name} could not be started (${command})`);
  live.add(child);

  let stdout = '';
  let stderr = '';
  const keep = (text: string, chunk: Buffer) => (text + chunk.toString()).slice(-KEEP_OUTPUT);
  child.stdout?.on('data', (chunk: Buffer) => (stdout = keep(stdout, chunk)));
  child.stderr?.on('data', (chunk: Buffer) => (stderr = keep(stderr, chunk)));
  const exited = once(child, 'exit').then(([code, signal]) => {
    live.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });

  return {
    name,
    pid: child.pid,
    child,
    output: () => stdout + stderr,
    stdout: () => stdout,
    exited,
    line(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => fail(new Error(`${name} printed no ready line within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
        const check = () => {
          const found = stdout.split('\n').find(match);
          if (found !== undefined) done(() => resolve(found));
        };
        const fail = (error: Error) => done(() => reject(error));
        const done = (settle: () => void) => {
          clearTimeout(timer);
          child.stdout?.off('data', check);
          settle();
        };
        child.stdout?.on('data', check);
        void exited.then(({ code }) => fail(new Error(`${name} exited with ${code}: ${stderr || stdout}`)));
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A bench script (compiled, next to this one) in a node process of its own. */
export function startNode(name: string, script: string | URL, options: StartOptions = {}): BenchProcess {
  const path = typeof script === 'string' ? script : fileURLToPath(script);
  const node = options.node ?? process.execPath;
  const [command = node, ...launcherArgs] = options.launcher ?? [];
  const args = [...launcherArgs, ...(options.launcher ? [node] : []), ...(options.nodeFlags ?? []), path, ...(options.args ?? [])];
  return startProcess(name, command, { ...options, args });
}

/**
 * Runs a load generator to its end and returns the JSON it prints as its last line. It is
 * killed if it runs past `timeoutMs`: every run of the bench is bounded in time.
 */
export async function runNodeForJson<T>(name: string, script: URL, input: unknown, timeoutMs: number): Promise<T> {
  const proc = startNode(name, script, { args: [JSON.stringify(input)] });
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await proc.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${name} ended with ${code ?? signal}: ${proc.output().slice(-4000)}`);
  return JSON.parse(proc.stdout().trim().split('\n').at(-1) ?? '') as T;
}

/** Ends every process still running, the newest first. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...live].reverse().map(async (child) => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      clearTimeout(timer);
    }),
  );
}

/**
 * Commands to a load generator over IPC, each answered by a message with the same id. A
 * command not answered within `timeoutMs`, or a process that exits, fails it.
 */
export function steer(proc: BenchProcess) {
  let nextId = 0;
  const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let isReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    isReady = resolve;
    void proc.exited.then(({ code }) => reject(new Error(`${proc.name} exited with ${code}: ${proc.output().slice(-2000)}`)));
  });
  ready.catch(() => undefined);
  proc.child.on('message', (message: { ready?: boolean; id?: number; result?: unknown; error?: string }) => {
    if (message.ready) isReady();
    const entry = message.id === undefined ? undefined : waiting.get(message.id);
    if (!entry) return;
    waiting.delete(message.id!);
    if (message.error !== undefined) entry.reject(new Error(`${proc.name}: ${message.error}`));
    else entry.resolve(message.result);
  });
  void proc.exited.then(({ code }) => {
    for (const entry of waiting.values()) entry.reject(new Error(`${proc.name} exited with ${code}: ${proc.output().slice(-2000)}`));
    waiting.clear();
  });
  return {
    /** Resolves once the process says it is ready for commands. */
    ready: () => ready,
    send<T>(command: string, fields: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${proc.name} did not answer ${command} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (value) => (clearTimeout(timer), resolve(value as T)),
          reject: (error) => (clearTimeout(timer), reject(error)),
        });
        proc.child.send({ id, command, ...fields });
      });
    },
  };
}
