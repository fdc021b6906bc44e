import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';

/**
 * The Node releases production runs the broker on, besides the Node 20 the tests run on. The tests'
 * global set-up installs each from the npm registry (the `node-linux-<arch>` package) into the
 * project's cache.
 */
export const PRODUCTION_NODE_MAJORS = [22, 24] as const;
export type ProductionNodeMajor = (typeof PRODUCTION_NODE_MAJORS)[number];

/** Where the global set-up puts that Node. */
export const productionNodePrefix = (major: ProductionNodeMajor): string => join(projectRoot, 'node_modules', '.cache', `node${major}`);

/** Its binary. */
export const productionNode = (major: ProductionNodeMajor): string =>
  join(productionNodePrefix(major), 'node_modules', `node-linux-${process.arch}`, 'bin', 'node');

/** Node 24: the tests of listening on several sockets and of the connection cap run on it. */
export const NODE_24 = productionNode(24);
