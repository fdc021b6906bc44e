import { supportedLocales, toLocale, type Locale } from '../http/locale.js';

/**
 * Client metadata given per language, as OpenID Connect Dynamic Client Registration 1.0 §2.1
 * has it: the field's name, `#`, and a BCP47 language tag (`client_name#sv`). oidc-provider keeps
 * only metadata it is told of by exact name (extraClientMetadata.properties) and drops any other
 * without a word, so the broker names each one it keeps: the human-readable fields below, each in
 * each language of its pages (ui_locales_supported), the only languages it ever shows. That also
 * bounds them: five fields in five languages at most. A field tagged with any other language is
 * refused with the tag to use instead, never dropped.
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

const taggedNames: ReadonlySet<string> = new Set(TAGGED_FIELDS.map((tagged) => tagged.name));

/** Whether `key` is a field in a language the broker keeps (`client_name#sv`). */
export const isTaggedField = (key: string): boolean => taggedNames.has(key);

/**
 * What is wrong with `key` when it is a human-readable field in a language the broker does not
 * keep (`client_name#de`, `client_name#sv-SE`); undefined for any other key.
 */
export function unkeptLanguage(key: string): string | undefined {
  const [field = '', tag] = key.split(/#(.*)/s);
  if (tag === undefined || taggedNames.has(key) || !(LOCALIZABLE_FIELDS as readonly string[]).includes(field)) return undefined;
  const locale = toLocale(tag);
  if (locale) return `tag it with the language alone, as the broker's pages name it: ${field}#${locale}`;
  return `the broker's pages are in ${supportedLocales.join(', ')} only, so ${field} in another language would never be shown: leave it out`;
}

/** A field as a page in `locale` shows it: in that language when the client gave it so, else as given without a tag. */
export function inLanguage(metadata: Readonly<Record<string, unknown>>, field: LocalizableField, locale: Locale): unknown {
  return metadata[taggedName(field, locale)] ?? metadata[field];
}

/**
 * The client's name on a page in `locale`: the operator's display_name, in every language (the
 * operator has the last word on what the person reads); else the name the client gave in that
 * language, or without a tag; else its client_id.
 */
export function clientNameIn(metadata: Readonly<Record<string, unknown>>, locale: Locale): string {
  const name = metadata.display_name ?? inLanguage(metadata, 'client_name', locale);
  return typeof name === 'string' ? name : String(metadata.client_id);
}
