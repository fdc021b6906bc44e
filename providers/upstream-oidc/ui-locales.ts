/**
 * The `ui_locales` an upstream eID is sent for a person whose pages are in `locale`, when the eID
 * speaks `spoken`: that language alone when the eID has it, else that language and then English.
 * ui_locales is a list, most wanted first (OpenID Connect Core §3.1.2.1), and a provider takes the
 * first it has: the eID shows English, as it did when it was sent English alone, while a page that
 * does speak the person's language (the simulators', or the eID once it learns it) shows theirs.
 * Sending English alone put a Norwegian or Danish person on an English page they need not have had.
 */
export function uiLocalesFor(locale: string, spoken: readonly string[]): string {
  return spoken.includes(locale) ? locale : `${locale} en`;
}
