import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Bundles the broker (bin/main.ts and everything it imports, dependencies included) into a few
 * files with esbuild. Node 20 spends most of a start resolving, reading and linking the 900
 * modules the broker is made of, one by one; a bundle is a handful (measured in BENCHMARKS.md).
 * What only some configurations use (the demo, the admin API, the CLI, simulators, other eIDs)
 * stays behind dynamic import() and lands in chunks of its own, loaded when used.
 */

const projectRoot = dirname(dirname(fileURLToPath(import.meta.url)));

/** The path from the bundle's folder to `file`, with forward slashes: a relative URL. */
const urlFrom = (outdir, file) => relative(outdir, file).split(sep).join('/');

/** Code before each output file: what a module of the bundle finds as if it were still its own file. */
const PRELUDE = [
  "import { createRequire as __nebCreateRequire } from 'node:module';",
  "import { dirname as __nebDirname } from 'node:path';",
  "import { fileURLToPath as __nebFileURLToPath } from 'node:url';",
  // CommonJS dependencies require Node's built-in modules.
  'const require = __nebCreateRequire(import.meta.url);',
  // The URL of a module's original file, from its path relative to the bundle (see keepModuleLocations).
  'const __nebOriginal = (path) => new URL(path, import.meta.url);',
].join('\n');

const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.js': 'js', '.mjs': 'js', '.cjs': 'js' };

/**
 * Every module keeps the location of its original file: `import.meta.url`, `__filename` and
 * `__dirname` name that file, not the bundle. The broker finds its project root, its views and
 * each eID's pages and certificates from where its modules are (src/paths.ts, `pluginFolder`),
 * and a few dependencies find their own files so. Each is rewritten to a URL relative to the
 * bundle, so the tree can move (a container image, another checkout) and still be found; lines
 * keep their numbers, so source maps still point at the right line. `import.meta.resolve` of a
 * package is left as it is: a bundle lives in the project (dist/bin/, the bench's folder in
 * node_modules/.cache/), where packages resolve as they do from the sources.
 */
function keepModuleLocations(outdir) {
  const moduleUrl = /\bimport\.meta\.url\b/g;
  const commonJsLocation = /(?<![.\w$])__(filename|dirname)(?![\w$])/g;
  return {
    name: 'keep-module-locations',
    setup(build) {
      build.onLoad({ filter: /\.[cm]?[jt]s$/ }, async ({ path }) => {
        const source = await readFile(path, 'utf8');
        if (!source.includes('import.meta.url') && !source.includes('__filename') && !source.includes('__dirname')) return undefined;
        const original = `__nebOriginal(${JSON.stringify(urlFrom(outdir, path))})`;
        const filename = `__nebFileURLToPath(${original})`;
        const contents = source
          .replace(moduleUrl, `${original}.href`)
          .replace(commonJsLocation, (_, which) => (which === 'filename' ? filename : `__nebDirname(${filename})`));
        return { contents, loader: LOADERS[extname(path)] };
      });
    },
  };
}

/**
 * Bundles `entry` into `folder`, emptied first (chunks are named by
 * their content's hash): `<entry's name>.js`, a chunk per part that is imported dynamically,
 * and a source map beside each file. Resolves to the entry's output file.
 */
export async function bundle(entry, folder) {
  const outdir = resolve(folder);
  // Loaded here: `npm start` with nothing to build never loads esbuild.
  const esbuild = await import('esbuild');
  rmSync(outdir, { recursive: true, force: true });
  const name = basename(entry, extname(entry));
  await esbuild.build({
    absWorkingDir: projectRoot,
    entryPoints: { [name]: entry },
    outdir,
    bundle: true,
    splitting: true,
    // Every chunk in the entry's folder, so that a path relative to any of them is the same.
    chunkNames: '[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    banner: { js: PRELUDE },
    // Stack traces name the TypeScript sources (bin/main.ts turns source maps on); the sources
    // themselves stay out of the maps, which keeps them small to read at start-up.
    sourcemap: 'linked',
    sourcesContent: false,
    plugins: [keepModuleLocations(outdir)],
    logLevel: 'warning',
  });
  return join(outdir, `${name}.js`);
}

/** The broker's bundle (bin/main.ts) into `outdir`; resolves to its entry, `main.js`. */
export const bundleBroker = (outdir) => bundle(join(projectRoot, 'bin', 'main.ts'), outdir);

// `node scripts/bundle.js <folder>`: the bundle into that folder (the bench's own build).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!process.argv[2]) throw new Error('usage: node scripts/bundle.js <output folder>');
  await bundleBroker(process.argv[2]);
}
