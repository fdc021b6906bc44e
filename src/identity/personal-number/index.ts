import { isoDate } from './calendar.js';
import { danishPersonalNumber } from './dk.js';
import { finnishPersonalNumber } from './fi.js';
import { norwegianPersonalNumber } from './no.js';
import type { PersonalNumberRules } from './rules.js';
import { swedishPersonalNumber } from './se.js';

export type { PersonalNumberRules } from './rules.js';
export { danishPersonalNumber } from './dk.js';
export { finnishPersonalNumber } from './fi.js';
export {
  createNorwegianPersonalNumber,
  norwegianPersonalNumber,
  type NorwegianPersonalNumberOptions,
} from './no.js';
export {
  createSwedishPersonalNumber,
  swedishPersonalNumber,
  type SwedishPersonalNumberOptions,
} from './se.js';

export type PersonalNumberCountry = 'SE' | 'NO' | 'FI' | 'DK';

export const personalNumbers: Readonly<Record<PersonalNumberCountry, PersonalNumberRules>> = {
  SE: swedishPersonalNumber,
  NO: norwegianPersonalNumber,
  FI: finnishPersonalNumber,
  DK: danishPersonalNumber,
};

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Age in whole years on the UTC day of `on`. Comparing month and day as text means someone
 * born on 29 February turns a year older on 1 March in non-leap years.
 */
export function ageOn(dateOfBirth: string, on: Date): number {
  if (!ISO_DATE.test(dateOfBirth)) {
    throw new RangeError(`Not an ISO date (YYYY-MM-DD): ${dateOfBirth}`);
  }
  const today = isoDate(on);
  const birthdayPassed = today.slice(5) >= dateOfBirth.slice(5);
  return Number(today.slice(0, 4)) - Number(dateOfBirth.slice(0, 4)) - (birthdayPassed ? 0 : 1);
}
