import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { KEY_FAMILIES, SEALED_RECORDS } from '../../src/store/keys.js';

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

describe('the sealing of a code or token', () => {
  const sealed = (record: Record<string, unknown>) => SEALED_RECORDS.find((rule) => rule.prefix === 'oidc:AccessToken:')!.holding!(JSON.stringify(record));
  const acrValues = { acr: { values: ['urn:test:test-double'] } };

  it('is skipped without personal data: no claims request, or one by name and the acr values of acr_values', () => {
    expect(sealed({ accountId: 'one', scope: 'openid' })).toBe(false);
    expect(sealed({ claims: { id_token: { personal_number: { essential: true }, ...acrValues }, userinfo: { value_added: null } } })).toBe(false);
  });

  it('is done for authorization_details and for a claim asked for by value or values, wherever it sits', () => {
    expect(sealed({ rar: [{ type: 'sign' }] })).toBe(true);
    expect(sealed({ claims: { id_token: { ...acrValues, personal_number: { value: '199001011234' } } } })).toBe(true);
    expect(sealed({ claims: { userinfo: { personal_number: { values: ['199001011234'] } }, id_token: acrValues } })).toBe(true);
    // A claim whose name ends in "acr" is not oidc-provider's acr, whatever its quotes.
    expect(sealed({ claims: { id_token: { 'x"acr': { values: ['199001011234'] } } } })).toBe(true);
  });
});
