import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { HeldLines } from '../../src/log-lines.js';
import { projectRoot } from '../../src/paths.js';

/** src/log.ts as the JavaScript module the broker runs, inside the project so that its packages resolve. */
const cache = join(projectRoot, 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const folder = mkdtempSync(join(cache, 'neb-log-lines-'));
const logModule = join(folder, 'log.mjs');
buildSync({ entryPoints: [join(projectRoot, 'src/log.ts')], outfile: logModule, bundle: true, packages: 'external', format: 'esm', platform: 'node', logLevel: 'error' });
afterAll(() => rmSync(folder, { recursive: true, force: true }));
/** Ended after the tests, also when one gave up waiting for its child. */
const children: ChildProcess[] = [];
afterAll(() => children.forEach((child) => child.kill('SIGKILL')));

/** A process that logs `count` lines (numbered from 1) to stdout with the broker's logger, at once, then does `then`. */
function logLinesThen(then: string, count = 3, padding = 0) {
  const program = `
    const { createLogger } = await import(${JSON.stringify(pathToFileURL(logModule).href)});
    const log = createLogger('info');
    const pad = 'x'.repeat(${padding});
    for (let n = 1; n <= ${count}; n += 1) log.info({ n, pad }, 'line');
    ${then}
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', program], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const lines = () => stdout.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { n: number }).n);
  return { child, lines, exit: once(child, 'exit') as Promise<[number | null, string | null]> };
}

describe('log lines on stdout', () => {
  it('are handed over together, in one write, not one write a line', async () => {
    const writes: string[] = [];
    let written!: () => void;
    const firstWrite = new Promise<void>((resolve) => (written = resolve));
    const lines = new HeldLines({ write: (chunk: string) => (writes.push(chunk), written()) }, 1);
    for (const n of [1, 2, 3]) lines.write(`{"n":${n}}\n`);
    expect(writes).toEqual([]);
    await firstWrite;
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n']);
  });

  it('of a busy moment go in one write up to 16 KB, and are handed over at once when they reach it', async () => {
    const writes: string[] = [];
    let written!: () => void;
    const firstWrite = new Promise<void>((resolve) => (written = resolve));
    const lines = new HeldLines({ write: (chunk: string) => (writes.push(chunk), written()) }, 1);
    // About 300 bytes a line, as a grant's request and audit lines: 40 lines, 12 KB.
    const line = `${JSON.stringify({ msg: 'x'.repeat(290) })}\n`;
    for (let i = 0; i < 40; i += 1) lines.write(line);
    expect(writes).toEqual([]);
    await firstWrite;
    expect(writes).toEqual([line.repeat(40)]);
    for (let i = 0; i < 60; i += 1) lines.write(line);
    expect(writes.slice(1)).toEqual([line.repeat(Math.ceil((16 * 1024) / line.length))]);
  });

  it('are written by themselves, without a later line or an exit to push them out', async () => {
    const { child, lines } = logLinesThen('setInterval(() => {}, 1000);');
    await new Promise<void>((resolve) => child.stdout.on('data', () => lines().length === 3 && resolve()));
    expect(lines()).toEqual([1, 2, 3]);
  });

  it('are all written when the process exits at once after them (a graceful shutdown ends with process.exit)', async () => {
    const run = logLinesThen('process.exit(0);');
    expect(await run.exit).toEqual([0, null]);
    expect(run.lines()).toEqual([1, 2, 3]);
  });

  it('waiting for a destination that takes them more slowly than they come are dropped past 16 MB, so memory stays bounded', async () => {
    // 24 MB of 1 KB lines in one turn of the event loop: no write can finish meanwhile.
    const run = logLinesThen('setTimeout(() => process.exit(0), 500);', 24 * 1024, 1_000);
    expect(await run.exit).toEqual([0, null]);
    const written = run.lines();
    expect(written.length).toBeLessThan(17 * 1024);
    // Those kept come in order, the first first.
    expect(written[0]).toBe(1);
    expect(written.every((n, i) => i === 0 || n > written[i - 1]!)).toBe(true);
  });

  it('are all written when the process crashes right after them', async () => {
    const run = logLinesThen("throw new Error('crash');");
    expect((await run.exit)[0]).toBe(1);
    expect(run.lines()).toEqual([1, 2, 3]);
  });
});
