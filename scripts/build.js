import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Builds the broker (TypeScript → dist/) only when a source changed since the last build, so
 * that `npm start` and `npm test` start in about a second once it is built. The check is a walk
 * over the sources' modification times, far cheaper than loading the compiler; the build itself
 * is `tsc -b`, incremental, so a change to one file recompiles little.
 */

export const projectRoot = dirname(dirname(fileURLToPath(import.meta.url)));
/** The compiled broker, as `npm start` and the tests that spawn a broker run it. */
export const compiledMain = join(projectRoot, 'dist', 'bin', 'main.js');
/** Written by every build; its time is the build's time. */
const buildInfo = join(projectRoot, 'dist', '.tsbuildinfo');

/** What tsconfig.build.json compiles, and what changes its output: folders walked, and single files. */
const SOURCE_DIRS = ['bin', 'src', 'providers'];
const SOURCE_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
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

/** Whether dist/ is missing or older than some source. */
export function buildIsStale(root = projectRoot) {
  const info = join(root, 'dist', '.tsbuildinfo');
  if (!existsSync(info) || !existsSync(join(root, 'dist', 'bin', 'main.js'))) return true;
  return newestSource(root) > statSync(info).mtimeMs;
}

/**
 * Builds when the sources changed, saying so in one line on stderr; quiet otherwise. Returns
 * whether it built. Throws when the compiler reports errors.
 */
export function buildIfChanged({ say = (line) => process.stderr.write(`${line}\n`) } = {}) {
  if (!buildIsStale()) return false;
  // Without its main file, dist/ is not the build tsc -b remembers: start over.
  if (!existsSync(compiledMain)) rmSync(buildInfo, { force: true });
  say('Building the broker (TypeScript to dist/) because its sources changed…');
  const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: projectRoot, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`the build failed (tsc exited with ${result.status ?? result.signal})`);
  // tsc -b leaves its build info alone when no output changed (a source touched, not edited).
  const now = new Date();
  utimesSync(buildInfo, now, now);
  markMainExecutable();
  return true;
}

/**
 * Gives the compiled entry its executable bit, which tsc does not (it writes files 0644):
 * `npx nordic-eid-broker` in a checkout runs that file itself, and npm sets the bit only when it
 * links the package, which a cached npx link of the same folder skips.
 */
export function markMainExecutable() {
  chmodSync(compiledMain, 0o755);
}
