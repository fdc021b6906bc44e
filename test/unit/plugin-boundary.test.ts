import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';

/** The one module of src/ that files under providers/ may import: the plugin SDK. */
const SDK = 'src/eids/sdk.ts';

/** Every module a source text names: static imports and re-exports, side-effect imports, dynamic imports. */
function specifiers(source: string): string[] {
  const pattern = /\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;
  return [...source.matchAll(pattern)].map((match) => (match[1] ?? match[2] ?? match[3])!);
}

/** The relative imports of `file` (relative to the project root) whose target, as a path from the root, `forbidden` refuses. */
function importsWhere(file: string, source: string, forbidden: (target: string) => boolean): string[] {
  return specifiers(source).filter((specifier) => {
    if (!specifier.startsWith('.')) return false;
    return forbidden(relative(projectRoot, resolve(projectRoot, dirname(file), specifier)).replace(/\.js$/, '.ts'));
  });
}

/** A plugin's imports that reach into src/ other than through the SDK. */
const pastTheSdk = (file: string, source: string) => importsWhere(file, source, (target) => target.startsWith('src/') && target !== SDK);

/** A core module's imports of an eID: only the composition root (bin/main.ts) names them. */
const intoProviders = (file: string, source: string) => importsWhere(file, source, (target) => target.startsWith('providers/'));

/** Every import of the files under `dir` that `check` finds, as `file: specifier`. */
function offendersIn(dir: string, check: (file: string, source: string) => string[]): string[] {
  const files = sourceFiles(dir);
  expect(files.length).toBeGreaterThan(10);
  return files.flatMap((file) => check(file, readFileSync(join(projectRoot, file), 'utf8')).map((specifier) => `${file}: ${specifier}`));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(projectRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(entry.name) ? [path] : [];
  });
}

describe('the plugin boundary', () => {
  it('lets files under providers/ import from src/ only through the plugin SDK', () => {
    expect(offendersIn('providers', pastTheSdk)).toEqual([]);
  });

  it('lets no file under src/ import from providers/: the core names no eID', () => {
    expect(offendersIn('src', intoProviders)).toEqual([]);
  });

  it('sees every kind of import that reaches past the SDK', () => {
    const source = [
      "import { a } from '../../src/eids/sdk.js';",
      "import type { Store } from '../../src/store/store.js';",
      "export { b } from '../../src/log.js';",
      "const c = await import('../../src/paths.js');",
      "import '../../src/http/server.js';",
      "import { d } from './flow.js';",
    ].join('\n');
    expect(pastTheSdk('providers/x-eid/index.ts', source)).toEqual([
      '../../src/store/store.js',
      '../../src/log.js',
      '../../src/paths.js',
      '../../src/http/server.js',
    ]);
  });

  it('sees a core module that reaches into providers/, however it imports', () => {
    const source = [
      "import { builtInEids } from '../../providers/index.js';",
      "const eid = await import('../../providers/se-bankid/index.js');",
      "export type { LoginRecords } from '../../providers/shared/login-records.js';",
      "import { a } from './sdk.js';",
      "import { b } from '../providers/index.js';",
    ].join('\n');
    expect(intoProviders('src/eids/registry.ts', source)).toEqual([
      '../../providers/index.js',
      '../../providers/se-bankid/index.js',
      '../../providers/shared/login-records.js',
    ]);
  });
});
