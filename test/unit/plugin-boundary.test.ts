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

/** The imports of `file` (relative to the project root) that reach into src/ other than through the SDK. */
function forbiddenImports(file: string, source: string): string[] {
  return specifiers(source).filter((specifier) => {
    if (!specifier.startsWith('.')) return false;
    const target = relative(projectRoot, resolve(projectRoot, dirname(file), specifier)).replace(/\.js$/, '.ts');
    return target.startsWith('src/') && target !== SDK;
  });
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
    const files = sourceFiles('providers');
    expect(files.length).toBeGreaterThan(10);
    const offenders = files.flatMap((file) => forbiddenImports(file, readFileSync(join(projectRoot, file), 'utf8')).map((specifier) => `${file}: ${specifier}`));
    expect(offenders).toEqual([]);
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
    expect(forbiddenImports('providers/x-eid/index.ts', source)).toEqual([
      '../../src/store/store.js',
      '../../src/log.js',
      '../../src/paths.js',
      '../../src/http/server.js',
    ]);
  });
});
