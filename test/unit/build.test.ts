import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildIsStale } from '../../scripts/build.js';

/** A project folder with sources and a build, each file dated `secondsAgo` before now. */
let root: string;
const write = (path: string, secondsAgo: number) => {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, '');
  const at = new Date(Date.now() - secondsAgo * 1000);
  utimesSync(file, at, at);
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'neb-build-'));
  write('bin/main.ts', 100);
  write('src/broker.ts', 100);
  write('providers/se-bankid/index.ts', 100);
  write('tsconfig.json', 100);
  write('dist/bin/main.js', 50);
  write('dist/.tsbuildinfo', 50);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('npm start builds only when the sources changed', () => {
  it('not when dist/ is newer than every source', () => {
    expect(buildIsStale(root)).toBe(false);
  });

  it.each(['bin/main.ts', 'src/oidc/provider.ts', 'providers/fi-ftn/config.ts', 'tsconfig.build.json', 'package-lock.json', 'scripts/bundle.js'])('when %s changed since', (path) => {
    write(path, 10);
    expect(buildIsStale(root)).toBe(true);
  });

  it('not for a test, which never reaches dist/', () => {
    write('src/store/store.test.ts', 10);
    write('providers/se-bankid/test/flow.test.ts', 10);
    expect(buildIsStale(root)).toBe(false);
  });

  it('when there is no build, or it lost its main file', () => {
    rmSync(join(root, 'dist/bin/main.js'));
    expect(buildIsStale(root)).toBe(true);
    rmSync(join(root, 'dist'), { recursive: true });
    expect(buildIsStale(root)).toBe(true);
  });
});
