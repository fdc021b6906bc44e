import { calendarDate, defineCountry, rulesFromParser, type ParsedPersonalNumber, type PersonalNumberRules } from '../../src/eids/sdk.js';

export interface NorwegianPersonalNumberOptions {
  /**
   * Accept the synthetic numbers of Skatteetaten's Tenor test register (month + 80). Only for
   * test environments: they never belong to a real person.
   */
  acceptTenorTestNumbers?: boolean;
}

const FIRST_CHECK_WEIGHTS = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const SECOND_CHECK_WEIGHTS = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/** D-numbers (for people not in the population register) carry the day of birth plus this. */
const D_NUMBER_DAY_OFFSET = 40;
const TENOR_MONTH_OFFSET = 80;

/**
 * The century a number belongs to, by its individual number (digits 7–9) and two-digit year.
 * The rows do not overlap; combinations outside them were never issued.
 */
const CENTURY_RANGES = [
  { individual: [0, 499], years: [0, 99], century: 1900 },
  { individual: [500, 749], years: [54, 99], century: 1800 },
  { individual: [500, 999], years: [0, 39], century: 2000 },
  { individual: [900, 999], years: [40, 99], century: 1900 },
] as const;

export function createNorwegianPersonalNumber(
  options: NorwegianPersonalNumberOptions = {},
): PersonalNumberRules {
  const acceptTenorTestNumbers = options.acceptTenorTestNumbers ?? false;
  return rulesFromParser((input) => parseNorwegianPersonalNumber(input, acceptTenorTestNumbers));
}

export const norwegianPersonalNumber = createNorwegianPersonalNumber();

/**
 * H-numbers (month + 40) are rejected: they are temporary numbers health services give
 * patients whose identity is unknown, so no eID is ever issued for one.
 */
function parseNorwegianPersonalNumber(
  input: string,
  acceptTenorTestNumbers: boolean,
): ParsedPersonalNumber | undefined {
  const canonical = input.trim();
  if (!/^\d{11}$/.test(canonical) || !hasValidCheckDigits(canonical)) return undefined;

  const writtenDay = Number(canonical.slice(0, 2));
  const writtenMonth = Number(canonical.slice(2, 4));
  const yy = Number(canonical.slice(4, 6));
  const individual = Number(canonical.slice(6, 9));

  const day = writtenDay > D_NUMBER_DAY_OFFSET ? writtenDay - D_NUMBER_DAY_OFFSET : writtenDay;
  const month = acceptTenorTestNumbers && writtenMonth > TENOR_MONTH_OFFSET
    ? writtenMonth - TENOR_MONTH_OFFSET
    : writtenMonth;
  const century = centuryOf(individual, yy);
  const dateOfBirth = century === undefined ? undefined : calendarDate(century + yy, month, day);
  return dateOfBirth ? { canonical, dateOfBirth } : undefined;
}

function centuryOf(individual: number, yy: number): number | undefined {
  return CENTURY_RANGES.find(
    (range) =>
      individual >= range.individual[0] && individual <= range.individual[1] &&
      yy >= range.years[0] && yy <= range.years[1],
  )?.century;
}

function hasValidCheckDigits(digits: string): boolean {
  const first = mod11CheckDigit(digits.slice(0, 9), FIRST_CHECK_WEIGHTS);
  const second = mod11CheckDigit(digits.slice(0, 10), SECOND_CHECK_WEIGHTS);
  return first === Number(digits[9]) && second === Number(digits[10]);
}

/** Undefined when the weighted sum leaves remainder 1: no digit can make that number valid. */
function mod11CheckDigit(digits: string, weights: readonly number[]): number | undefined {
  const sum = [...digits].reduce(
    (total, digit, index) => total + Number(digit) * (weights[index] ?? 0),
    0,
  );
  const checkDigit = (11 - (sum % 11)) % 11;
  return checkDigit === 10 ? undefined : checkDigit;
}

/** Norway: its personal numbers, and the 6 characters of one that are the date of birth (DDMMYY NNNCC). */
export const norway = defineCountry('NO', norwegianPersonalNumber, 6);
