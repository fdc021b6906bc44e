import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';

/** Where the tests' global set-up puts a Node 24 (the npm registry's node-linux-<arch> package). */
export const NODE_24_PREFIX = join(projectRoot, 'node_modules', '.cache', 'node24');

/** Its binary: the tests that run the broker on Node 24 use it. */
export const NODE_24 = join(NODE_24_PREFIX, 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');
