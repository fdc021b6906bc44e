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

/**
 * The modules `file` (a path from the root) loads for their values as it loads itself: its
 * static imports and re-exports, less those of types only, which the compiler drops.
 */
function loadedWith(file: string, source: string): string[] {
  const statements = /^\s*(?:import|export)\s+(type\s+)?(?:([^'";]*?)\s+from\s+)?['"](\.[^'"]+)['"]/gm;
  const typesOnly = (clause: string) => /^\{[^}]*\}$/.test(clause) && clause.slice(1, -1).split(',').every((name) => name.trim() === '' || name.trim().startsWith('type '));
  return [...source.matchAll(statements)]
    .filter(([, type, clause = '']) => !type && !typesOnly(clause.trim()))
    .map(([, , , specifier = '']) => relative(projectRoot, resolve(projectRoot, dirname(file), specifier)).replace(/\.js$/, '.ts'));
}

/** Every cycle of `graph` (module: the modules it loads), each once, as `a -> b -> a`. */
function cyclesOf(graph: ReadonlyMap<string, string[]>): string[] {
  const cycles = new Set<string>();
  const done = new Set<string>();
  const walk = (module: string, path: string[]) => {
    const at = path.indexOf(module);
    if (at >= 0) return void cycles.add([...path.slice(at), module].join(' -> '));
    if (done.has(module)) return;
    for (const next of graph.get(module) ?? []) walk(next, [...path, module]);
    done.add(module);
  };
  for (const module of graph.keys()) walk(module, []);
  return [...cycles];
}

describe('the module graph', () => {
  // A module of a cycle runs before a module it reads a value from, which is then undefined in the
  // bundle (esbuild makes each const a var): the admin API's list of grants read the CIBA grant's
  // name from ciba.ts, whose imports led back to it, and held undefined for it.
  it('has no cycles: no module of src/ or providers/ loads, through others, a module that loads it', () => {
    const files = [...sourceFiles('src'), ...sourceFiles('providers')].filter((file) => file.endsWith('.ts'));
    const graph = new Map(files.map((file) => [file, loadedWith(file, readFileSync(join(projectRoot, file), 'utf8'))]));
    expect(graph.size).toBeGreaterThan(100);
    expect(cyclesOf(graph)).toEqual([]);
  });

  it('sees a cycle through value imports and re-exports, not through imports of types', () => {
    const graph = new Map([
      ['a.ts', loadedWith('a.ts', "import { b } from './b.js';\nimport type { C } from './c.js';")],
      ['b.ts', loadedWith('b.ts', "export { a } from './a.js';")],
      ['c.ts', loadedWith('c.ts', "import { type A } from './a.js';\nimport {\n  a,\n} from './a.js';")],
      ['d.ts', loadedWith('d.ts', "import type { A } from './a.js';\nimport { type B, type C } from './c.js';")],
    ]);
    expect(graph.get('a.ts')).toEqual(['b.ts']);
    // Loaded by a.ts, c.ts closes a cycle through its import written over lines; d.ts, which imports types only, none.
    graph.set('a.ts', ['b.ts', 'c.ts', 'd.ts']);
    expect(cyclesOf(graph)).toEqual(['a.ts -> b.ts -> a.ts', 'a.ts -> c.ts -> a.ts']);
  });
});
