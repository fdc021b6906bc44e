import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { loadMessages, negotiateLocale, supportedLocales } from '../../src/http/locale.js';

describe('negotiateLocale', () => {
  it.each([
    ['sv-SE en', undefined, 'sv'],
    ['de fi', 'sv', 'fi'],
    ['no', undefined, 'nb'],
    ['nn-NO', undefined, 'nb'],
    [undefined, 'da-DK,da;q=0.9,en;q=0.8', 'da'],
    [undefined, 'de-DE,en;q=0.5,sv;q=0.9', 'sv'],
    [undefined, 'de, fr', 'en'],
    [undefined, 'sv;q=0, fi;q=0.1', 'fi'],
    [undefined, undefined, 'en'],
    ['xx', 'garbage;;;q=abc', 'en'],
  ])('ui_locales %j, Accept-Language %j → %s', (uiLocales, acceptLanguage, expected) => {
    expect(negotiateLocale(uiLocales, acceptLanguage, 'en')).toBe(expected);
  });
});

/** views/locales/, and each eID's locales/ folder (providers/<id>/locales/). */
const localeFolders = [
  join(projectRoot, 'views', 'locales'),
  ...readdirSync(join(projectRoot, 'providers'))
    .map((folder) => join(projectRoot, 'providers', folder, 'locales'))
    .filter((folder) => existsSync(folder)),
];

describe.each(localeFolders.map((folder) => [folder.slice(projectRoot.length + 1)]))('%s', (folder) => {
  it('every language has every key the others have', () => {
    const messages = loadMessages(join(projectRoot, folder));
    const allKeys = new Set(supportedLocales.flatMap((locale) => Object.keys(messages[locale])));
    for (const locale of supportedLocales) {
      const missing = [...allKeys].filter((key) => !(key in messages[locale]));
      expect(missing, `missing in ${locale}.json`).toEqual([]);
    }
  });
});
