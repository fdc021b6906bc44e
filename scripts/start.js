#!/usr/bin/env node
// `npm start`: build when the sources changed, then run the compiled broker in this process.
import { pathToFileURL } from 'node:url';
import { buildIfChanged, compiledMain } from './build.js';

try {
  await buildIfChanged();
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
await import(pathToFileURL(compiledMain).href);
