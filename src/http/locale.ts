import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { viewsDir } from '../paths.js';

export const supportedLocales = ['sv', 'en', 'nb', 'fi', 'da'] as const;
export type Locale = (typeof supportedLocales)[number];

/** Whether `value` is exactly one of the broker's languages (as its own pages and forms name them), and nothing else a request may bring. */
export const isLocale = (value: unknown): value is Locale => supportedLocales.includes(value as Locale);

/** Each language's name in itself, for the language links. */
export const languageNames: Record<Locale, string> = { sv: 'Svenska', en: 'English', nb: 'Norsk bokmål', fi: 'Suomi', da: 'Dansk' };

/** Language tags people's browsers and clients send, by the locale we answer in. */
const aliases: Record<string, Locale> = { sv: 'sv', en: 'en', nb: 'nb', no: 'nb', nn: 'nb', fi: 'fi', da: 'da' };

/**
 * The language subtags a page in `locale` answers, closest first: Norwegian pages are in bokmål
 * (nb), which `no` (Norwegian) most often means, and a reader of nynorsk (nn) reads them too.
 */
export const subtagsOf = (locale: Locale): string[] => Object.keys(aliases).filter((subtag) => aliases[subtag] === locale);

/** The page language a BCP47 language tag asks for (by its primary language subtag), if the pages speak it. */
export function toLocale(tag: string): Locale | undefined {
  return aliases[tag.trim().toLowerCase().split(/[-_]/)[0] ?? ''];
}

/** Accept-Language tags, most preferred first. */
function acceptLanguageTags(header: string): string[] {
  return header
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = Number(params.find((p) => p.trim().startsWith('q='))?.trim().slice(2) ?? 1);
      return { tag, q: Number.isFinite(q) ? q : 0, index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((entry) => entry.tag);
}

/** The page language: the client's ui_locales first, then the browser's, then the configured default. */
export function negotiateLocale(uiLocales: string | undefined, acceptLanguage: string | undefined, fallback: Locale): Locale {
  const candidates = [...(uiLocales?.split(' ') ?? []), ...acceptLanguageTags(acceptLanguage ?? '')];
  for (const tag of candidates) {
    const locale = toLocale(tag);
    if (locale) return locale;
  }
  return fallback;
}

export type Messages = Record<string, string>;

/**
 * <dir>/<locale>.json for every language (the broker's views/locales/ by default), flattened to
 * dotted keys. `locales`: other languages than the broker's, for a simulator that also speaks its
 * eID's own (Bank iD's Czech).
 */
export function loadMessages<L extends string = Locale>(dir = join(viewsDir, 'locales'), locales: readonly L[] = supportedLocales as unknown as readonly L[]): Record<L, Messages> {
  const files = new Set(readdirSync(dir));
  return Object.fromEntries(
    locales.map((locale) => {
      if (!files.has(`${locale}.json`)) throw new Error(`${join(dir, `${locale}.json`)} is missing`);
      return [locale, flatten(JSON.parse(readFileSync(join(dir, `${locale}.json`), 'utf8')) as object)];
    }),
  ) as Record<L, Messages>;
}

function flatten(tree: object, prefix = ''): Messages {
  return Object.entries(tree).reduce<Messages>((out, [key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return typeof value === 'string' ? { ...out, [path]: value } : { ...out, ...flatten(value as object, path) };
  }, {});
}
