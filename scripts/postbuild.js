// Run by npm after `npm run build`: the compiled entry gets its executable bit (see markMainExecutable).
import { markMainExecutable } from './build.js';

markMainExecutable();
