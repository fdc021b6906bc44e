import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { compiledMain } from '../../scripts/build.js';
import { projectRoot } from '../../src/paths.js';

export interface BrokerProcess {
  child: ChildProcess;
  output(): string;
  /** Its stdout as written, bytes and all. */
  stdout(): Buffer;
  /** Resolves when the broker logs that it listens; rejects if it exits first. */
  listening(): Promise<void>;
  exited(): Promise<{ code: number | null; stderr: string }>;
  stop(): Promise<void>;
}

/**
 * Runs the compiled broker (dist/bin/main.js) as its own process, the way `npm start` runs it,
 * on this Node or on `node` (e.g. NODE_24). Vitest's global set-up (test/support/build.ts) has
 * built it, so no test waits for the compiler.
 */
export function spawnBroker(env: Record<string, string | undefined>, nodeFlags: string[] = [], node = process.execPath): BrokerProcess {
  const child = spawn(node, [...nodeFlags, compiledMain], {
    cwd: projectRoot,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const stdoutBytes: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    stdoutBytes.push(chunk);
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr }));
  return {
    child,
    output: () => stdout + stderr,
    stdout: () => Buffer.concat(stdoutBytes),
    exited: () => exit,
    listening: () =>
      new Promise<void>((resolve, reject) => {
        const check = () => stdout.includes('"msg":"broker listening"') && (resolve(), true);
        if (check()) return;
        child.stdout!.on('data', check);
        void exit.then(({ code }) => reject(new Error(`the broker exited with ${code}: ${stderr}`)));
      }),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exit;
      }
    },
  };
}

/** Writes a configuration file into a fresh temporary folder. */
export function writeConfig(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'neb-config-')), name);
  writeFileSync(path, content);
  return path;
}

export interface ChildServer {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * The servers still running. Stopped after each test file by a hook registered here, at the
 * file's top level: vitest ignores an afterAll registered while a beforeAll runs.
 */
const runningServers = new Set<ChildServer>();
afterAll(() => Promise.all([...runningServers].map((server) => server.stop())));

/**
 * Runs another program's server — a relying party in Python, an Apache — until it is ready:
 * until it prints `ready` (a string), or answers HTTP at `ready` (a URL). Stopped after the
 * file. Fails with its output when it exits first or takes too long.
 */
export async function startChildServer(
  command: string,
  args: string[],
  options: { ready: string | URL; env?: Record<string, string>; cwd?: string; timeoutMs?: number },
): Promise<ChildServer> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? projectRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own: Apache, stopping, signals its whole group, which would
    // otherwise be the test runner's.
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = once(child, 'exit');
  const server: ChildServer = {
    child,
    output: () => output,
    async stop() {
      runningServers.delete(server);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(killer);
    },
  };
  runningServers.add(server);
  const isReady = async () => {
    if (typeof options.ready === 'string') return output.includes(options.ready);
    return fetch(options.ready).then(
      () => true,
      () => false,
    );
  };
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (!(await isReady())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${command} exited (${child.exitCode ?? child.signalCode}):\n${output}`);
    if (Date.now() > deadline) throw new Error(`${command} was not ready in time:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return server;
}
