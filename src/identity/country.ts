/**
 * A country, as the identity model knows it: its ISO 3166-1 alpha-2 code and the rules of its
 * personal numbers. The core holds no country of its own: each eID plugin brings its country's
 * rules (providers/countries/ has those of the built-in eIDs), so a new country is a new file
 * beside the eID, not a change to the core.
 */

/** An ISO 3166-1 alpha-2 code, upper case (SE, NO, CZ…); `isCountryCode` tells a real one. */
export type CountryCode = string;

const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'code' });

/** ISO 3166-1's user-assigned codes (AA, QM–QZ, XA–XZ, ZZ), some of which ICU names too. */
const USER_ASSIGNED = /^(AA|Q[M-Z]|X[A-Z]|ZZ)$/;

/**
 * Whether `value` is an ISO 3166-1 alpha-2 code. Node's ICU knows the name of every assigned
 * code (and of the reserved ones such as EU and UN) and answers any other with the code itself,
 * so no table of codes is kept here.
 */
export function isCountryCode(value: string): value is CountryCode {
  return /^[A-Z]{2}$/.test(value) && !USER_ASSIGNED.test(value) && regionNames.of(value) !== value;
}

export interface PersonalNumberRules {
  /** Canonical form, or undefined when the input is not a valid number of this country. */
  normalize(input: string): string | undefined;
  isValid(input: string): boolean;
  /** ISO date YYYY-MM-DD of birth, or undefined when invalid. */
  dateOfBirth(input: string): string | undefined;
}

/** What a country's parser yields for a valid number. */
export interface ParsedPersonalNumber {
  canonical: string;
  dateOfBirth: string;
}

/** Reads a number of one country; undefined when the input is not a valid one. */
export type PersonalNumberParser = (input: string) => ParsedPersonalNumber | undefined;

/** Every country answers all three questions from one parse, so they can never disagree. */
export function rulesFromParser(parse: PersonalNumberParser): PersonalNumberRules {
  return {
    normalize: (input) => parse(input)?.canonical,
    isValid: (input) => parse(input) !== undefined,
    dateOfBirth: (input) => parse(input)?.dateOfBirth,
  };
}

/** What an eID plugin says about its country (`EidPlugin.country`). */
export interface CountryRules {
  readonly code: CountryCode;
  readonly personalNumbers: PersonalNumberRules;
  /**
   * A canonical personal number as audit events show it (unless audit.personal_numbers_in_clear):
   * as long as the number, its date of birth readable and the rest masked.
   */
  maskPersonalNumber(canonical: string): string;
}

/**
 * A country from its code, its personal-number rules, and how many leading characters of a
 * canonical number are its date of birth (they stay readable in audit events: 19871126**** for
 * Sweden). Throws on a code that is not ISO 3166-1 alpha-2.
 */
export function defineCountry(code: string, personalNumbers: PersonalNumberRules, dateOfBirthLength: number): CountryRules {
  if (!isCountryCode(code)) throw new TypeError(`${code} is not an ISO 3166-1 alpha-2 country code`);
  return {
    code,
    personalNumbers,
    maskPersonalNumber(canonical) {
      const keep = Math.min(dateOfBirthLength, canonical.length - 1);
      return canonical.slice(0, keep) + '*'.repeat(canonical.length - keep);
    },
  };
}

/**
 * A country's name in a language, from the runtime's ICU data: a new eID's country needs no
 * text of ours. An operator may still override it as the text `country.<code>`.
 */
export function countryName(code: CountryCode, locale: string): string {
  return new Intl.DisplayNames([locale], { type: 'region', fallback: 'code' }).of(code) ?? code;
}

/**
 * The country whose eIDs a person reading in this language most likely has (sv → SE, fi → FI),
 * from the language's likely region; none for a language spoken in many countries' pages alike
 * (English maximizes to US, which no eID serves, so it ranks nothing first).
 */
export function homeCountryOf(locale: string): string | undefined {
  try {
    return new Intl.Locale(locale).maximize().region;
  } catch {
    return undefined;
  }
}
