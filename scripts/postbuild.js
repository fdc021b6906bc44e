// Run by npm after `npm run build` (the type check): the bundle that runs, its entry executable (see build.js).
import { bundleCompiledMain } from './build.js';

await bundleCompiledMain();
