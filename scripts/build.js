import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleBroker } from './bundle.js';

/**
 * Builds the broker (TypeScript → one bundle in dist/bin/) only when a source changed since the
 * last build, so that `npm start` and `npm test` start in about a second once it is built. The
 * check is a walk over the sources' modification times, far cheaper than loading the compiler.
 * The build is `tsc -b` (the type check, incremental, so a change to one file checks little),
 * then esbuild's bundle (scripts/bundle.js), which is what runs.
 */

export const projectRoot = dirname(dirname(fileURLToPath(import.meta.url)));
/** The compiled broker, as `npm start` and the tests that spawn a broker run it. */
export const compiledMain = join(projectRoot, 'dist', 'bin', 'main.js');

/** What tsconfig.build.json checks and the bundle is made of, and what changes the bundle: folders walked, and single files. */
const SOURCE_DIRS = ['bin', 'src', 'providers'];
const SOURCE_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'scripts/bundle.js'];
/** What tsconfig.build.json leaves out: tests never reach dist/. */
const isTest = (path) => path.endsWith('.test.ts') || /[/\\]test[/\\]/.test(path);

function newestIn(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestIn(path));
    else if (!isTest(path)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The newest modification time among the build's inputs under `root`. */
export function newestSource(root = projectRoot) {
  const dirs = SOURCE_DIRS.map((dir) => newestIn(join(root, dir)));
  const files = SOURCE_FILES.map((file) => join(root, file)).filter(existsSync).map((file) => statSync(file).mtimeMs);
  return Math.max(...dirs, ...files);
}

/**
 * Whether dist/ is missing or older than some source. The bundle is written last, so its time
 * is the build's: a build that failed after the type check left none.
 */
export function buildIsStale(root = projectRoot) {
  const main = join(root, 'dist', 'bin', 'main.js');
  if (!existsSync(join(root, 'dist', '.tsbuildinfo')) || !existsSync(main)) return true;
  return newestSource(root) > statSync(main).mtimeMs;
}

/**
 * Builds when the sources changed, saying so in one line on stderr; quiet otherwise. Resolves
 * to whether it built. Rejects when the compiler reports errors.
 */
export async function buildIfChanged({ say = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (!buildIsStale()) return false;
  say('Building the broker (TypeScript to dist/) because its sources changed…');
  const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: projectRoot, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`the build failed (tsc exited with ${result.status ?? result.signal})`);
  await bundleCompiledMain();
  return true;
}

/**
 * The step of every build after the type check (`npm run build` runs it as its postbuild):
 * the bundle in dist/bin/, its entry executable.
 */
export async function bundleCompiledMain() {
  await bundleBroker(dirname(compiledMain));
  markMainExecutable();
}

/**
 * Gives the compiled entry its executable bit, which esbuild does not (it writes files 0644):
 * `npx nordic-eid-broker` in a checkout runs that file itself, and npm sets the bit only when it
 * links the package, which a cached npx link of the same folder skips.
 */
export function markMainExecutable() {
  chmodSync(compiledMain, 0o755);
}
