import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundle } from '../../scripts/bundle.js';

/**
 * A tiny program shaped like the broker: an entry that turns source maps on and imports the rest
 * dynamically, a module that finds its own file (as src/paths.ts and `pluginFolder` do), and a
 * CommonJS dependency that finds its own folder (as pino's and ioredis' do).
 */
const PROGRAM = {
  'entry.ts': `process.setSourceMapsEnabled(true);
const { report } = await import('./module.js');
report();
`,
  'module.ts': `import dependency from './dependency.cjs';

export function report(): void {
  const stack = new Error('where am I').stack;
  console.log(JSON.stringify({ moduleUrl: import.meta.url, dependency, stack }));
}
`,
  'dependency.cjs': `module.exports = { filename: __filename, dirname: __dirname };
`,
};

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'neb-bundle-'));
  for (const [name, content] of Object.entries(PROGRAM)) writeFileSync(join(folder, name), content);
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

/** Bundles the program into `out/` and runs it; what it reported. */
async function runBundled(): Promise<{ moduleUrl: string; dependency: { filename: string; dirname: string }; stack: string }> {
  const main = await bundle(join(folder, 'entry.ts'), join(folder, 'out'));
  return JSON.parse(execFileSync(process.execPath, [main], { encoding: 'utf8' })) as Awaited<ReturnType<typeof runBundled>>;
}

describe('the bundle (scripts/bundle.js)', () => {
  it('puts what is imported dynamically in a chunk of its own, with source maps', async () => {
    await runBundled();
    const files = readdirSync(join(folder, 'out'));
    expect(files).toContain('entry.js');
    expect(files.filter((file) => file.endsWith('.js'))).toHaveLength(2);
    expect(files.filter((file) => file.endsWith('.js.map'))).toHaveLength(2);
  });

  it('leaves each module where it was: import.meta.url, __filename and __dirname name its own file', async () => {
    const { moduleUrl, dependency } = await runBundled();
    expect(moduleUrl).toBe(pathToFileURL(join(folder, 'module.ts')).href);
    expect(dependency).toEqual({ filename: join(folder, 'dependency.cjs'), dirname: folder });
  });

  it('gives stack traces that name the TypeScript source and its line', async () => {
    const { stack } = await runBundled();
    expect(stack).toContain(`${join(folder, 'module.ts')}:4:`);
  });
});
