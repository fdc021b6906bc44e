import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { KEY_FAMILIES } from '../../src/store/keys.js';

/** The rows of README's table of the keys in Redis, by the key each begins with. */
function documentedKeys(): string[] {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### The keys in Redis'), readme.indexOf('### Several instances behind a load balancer'));
  return [...section.matchAll(/^\| `([^`]+?)(?:…)?`/gm)].map((match) => match[1]!);
}

describe('the table of store keys', () => {
  it('names each key family once', () => {
    const prefixes = Object.values(KEY_FAMILIES).map((family) => family.prefix);
    expect(new Set(prefixes).size).toBe(prefixes.length);
  });

  it('is the one README shows, row for row, with the plugins after it', () => {
    expect(documentedKeys()).toEqual([...Object.values(KEY_FAMILIES).map((family) => family.prefix), '<eid id>:']);
  });
});
