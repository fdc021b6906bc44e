import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root folder, whether the code runs from src/ (tests) or from the bundle in dist/ (npm start). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the project root (package.json)');
    dir = parent;
  }
  return dir;
}

export const projectRoot = findRoot();

/**
 * The root of the tree this code runs from: the project itself (src/, under tests, and in the
 * bundle that npm start runs, whose modules keep their sources' locations: scripts/bundle.js), or
 * wherever else the sources were compiled to (the bench's own build). This file sits in its src/
 * folder.
 */
export const codeRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const viewsDir = join(projectRoot, 'views');
