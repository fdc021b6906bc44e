import { destinationName } from '../http/destination-name.js';
import { subtagsOf, supportedLocales, toLocale, type Locale } from '../http/locale.js';
import { registeredOpenly } from './open-registration.js';

/**
 * Client metadata given per language, as OpenID Connect Dynamic Client Registration 1.0 §2.1
 * has it: the field's name, `#`, and a BCP47 language tag (`client_name#sv`, `client_name#sv-SE`).
 * oidc-provider keeps only metadata it is told of by exact name (extraClientMetadata.properties)
 * and drops any other without a word, so the broker names each one it keeps: the human-readable
 * fields below, each in each language of its pages (ui_locales_supported), the only languages it
 * ever shows. That also bounds them: five fields in five languages at most.
 *
 * A field tagged with a region or script of one of those languages (`client_name#sv-SE`,
 * `policy_uri#nb-NO`, `client_name#no`) is taken and kept under the page's own tag
 * (`client_name#sv`), in the answer too: OIDC Core §5.2's matching, done once when the client is
 * written rather than on every page. A field tagged with any other language is refused, never dropped.
 */
export const LOCALIZABLE_FIELDS = ['client_name', 'client_uri', 'logo_uri', 'policy_uri', 'tos_uri'] as const;
export type LocalizableField = (typeof LOCALIZABLE_FIELDS)[number];

/** One field in one language, as a client's metadata names it. */
export interface TaggedField {
  name: string;
  field: LocalizableField;
  locale: Locale;
}

const taggedName = (field: LocalizableField, locale: Locale): string => `${field}#${locale}`;

/** Every field in every language the broker keeps, field by field. */
export const TAGGED_FIELDS: readonly TaggedField[] = LOCALIZABLE_FIELDS.flatMap((field) =>
  supportedLocales.map((locale) => ({ name: taggedName(field, locale), field, locale })),
);

/** RFC 5646's shape of a tag: a language of 2–3 letters, then subtags of 1–8 letters and digits, joined by `-`. */
const LANGUAGE_TAG = /^[a-z]{2,3}(?:-[a-z\d]{1,8})*$/i;

/** A human-readable field under a language tag, as a client's metadata names it. */
interface LanguageTagged {
  field: LocalizableField;
  /** The tag as the client wrote it. */
  tag: string;
  /** The page language it is shown in; undefined when the pages do not speak it, or the tag is not one. */
  locale: Locale | undefined;
}

/** `key` read as a human-readable field with a language tag (`client_name#sv-SE`); undefined for any other key. */
export function languageTagged(key: string): LanguageTagged | undefined {
  const [field = '', tag] = key.split(/#(.*)/s);
  if (tag === undefined || !(LOCALIZABLE_FIELDS as readonly string[]).includes(field)) return undefined;
  return { field: field as LocalizableField, tag, locale: LANGUAGE_TAG.test(tag) ? toLocale(tag) : undefined };
}

/** Whether `key` is a human-readable field in a language of the broker's pages, under any tag of it (`client_name#sv`, `client_name#sv-SE`). */
export const isTaggedField = (key: string): boolean => languageTagged(key)?.locale !== undefined;

/**
 * What is wrong with `key` when it is a human-readable field under a tag of a language the broker
 * does not keep (`client_name#de`), or under something that is no language tag
 * (`client_name#sv_SE`); undefined for any other key.
 */
export function unkeptLanguage(key: string): string | undefined {
  const tagged = languageTagged(key);
  if (!tagged || tagged.locale) return undefined;
  const locale = toLocale(tagged.tag);
  const mended = tagged.tag.trim().replaceAll('_', '-');
  if (locale) return `not a language tag as RFC 5646 writes one: ${tagged.field}#${LANGUAGE_TAG.test(mended) ? mended : locale}`;
  return `the broker's pages are in ${supportedLocales.join(', ')} only, so ${tagged.field} in another language would never be shown: leave it out`;
}

/**
 * Where a page language is the country's own: its tag with that region is the closest after the
 * language alone (`sv-SE` before `sv-FI`). English has no one home here.
 */
const homeRegions: Partial<Record<Locale, string>> = { sv: 'SE', nb: 'NO', fi: 'FI', da: 'DK' };

/**
 * How close `tag` is to `locale`'s pages, for the order in which tags of one field compete: the
 * language (for Norwegian: nb, then no, then nn), then the page's own tag, the language alone in
 * other letters, the language in its home region, any other region or script; then the tags in
 * alphabetical order, so that the choice never depends on the order the metadata came in.
 */
function closeness(tag: string, locale: Locale): Closeness {
  const [language = '', ...rest] = tag.toLowerCase().split('-');
  const home = homeRegions[locale]?.toLowerCase();
  const detail = tag === locale ? 0 : rest.length === 0 ? 1 : rest.length === 1 && rest[0] === home ? 2 : 3;
  return { language: subtagsOf(locale).indexOf(language), detail, tag };
}

interface Closeness {
  language: number;
  detail: number;
  tag: string;
}

/** Code-point order, the same on every machine (no collation). */
const byCodePoints = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const closer = (a: Closeness, b: Closeness): boolean =>
  (a.language - b.language || a.detail - b.detail || byCodePoints(a.tag.toLowerCase(), b.tag.toLowerCase()) || byCodePoints(a.tag, b.tag)) < 0;

/**
 * `metadata` with each human-readable field kept once per page language, under the page's own tag:
 * of the tags a page language answers (`client_name#sv`, `client_name#sv-SE`, `client_name#sv-FI`),
 * the closest (closeness). Other keys are kept as they are; tags of languages the broker does not
 * keep are too, for the caller to refuse (unkeptLanguage).
 */
export function foldLanguageTags(metadata: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const folded: Record<string, unknown> = {};
  const chosen = new Map<string, { rank: Closeness; value: unknown }>();
  for (const [key, value] of Object.entries(metadata)) {
    const tagged = languageTagged(key);
    if (!tagged?.locale) {
      folded[key] = value;
      continue;
    }
    const name = taggedName(tagged.field, tagged.locale);
    const rank = closeness(tagged.tag, tagged.locale);
    const best = chosen.get(name);
    if (!best || closer(rank, best.rank)) chosen.set(name, { rank, value });
  }
  for (const [name, { value }] of chosen) folded[name] = value;
  return folded;
}

/** A field as a page in `locale` shows it: in that language when the client gave it so, else as given without a tag. */
export function inLanguage(metadata: Readonly<Record<string, unknown>>, field: LocalizableField, locale: Locale): unknown {
  return metadata[taggedName(field, locale)] ?? metadata[field];
}

/** A client's page the broker may link to: an http(s) URL, never a script or data URL. */
export function isWebPage(uri: unknown): uri is string {
  return typeof uri === 'string' && /^https?:\/\//.test(uri);
}

/** The way back to a client: its home page (client_uri) in `locale`, and its name there; undefined when it gave none. */
export function homePageIn(metadata: Readonly<Record<string, unknown>>, locale: Locale): { href: string; client: string } | undefined {
  const home = inLanguage(metadata, 'client_uri', locale);
  return isWebPage(home) ? { href: home, client: clientNameIn(metadata, locale) } : undefined;
}

/**
 * The client's name on a page in `locale`: the operator's display_name, in every language (the
 * operator has the last word on what the person reads); else the name the client gave in that
 * language, or without a tag; else its client_id. A client anyone registered (open registration)
 * and the operator did not name is named by where its redirect_uris lead as well, after the name
 * it gave itself or alone (`Anyone (news.example)`): anyone can give a client a bank's name, but
 * not the bank's host.
 */
export function clientNameIn(metadata: Readonly<Record<string, unknown>>, locale: Locale): string {
  const name = metadata.display_name ?? inLanguage(metadata, 'client_name', locale);
  const places = registeredOpenly(metadata) && metadata.display_name === undefined ? destinationsOf(metadata.redirect_uris) : '';
  if (places) return typeof name === 'string' ? `${name} (${places})` : places;
  return typeof name === 'string' ? name : String(metadata.client_id);
}

/** The places `redirectUris` lead to (destinationName), each once, as a list in words; '' for none. */
function destinationsOf(redirectUris: unknown): string {
  const uris = Array.isArray(redirectUris) ? redirectUris.filter((uri): uri is string => typeof uri === 'string' && URL.canParse(uri)) : [];
  return [...new Set(uris.map((uri) => destinationName(new URL(uri))))].join(', ');
}
