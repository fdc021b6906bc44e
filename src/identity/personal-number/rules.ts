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
