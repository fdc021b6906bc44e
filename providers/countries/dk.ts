import { calendarDate, defineCountry, rulesFromParser, type ParsedPersonalNumber } from '../../src/eids/sdk.js';

/** Two-digit years up to and including `throughYear` fall in `century`; the first match wins. */
type CenturyRanges = readonly { throughYear: number; century: number }[];

const IN_1900S: CenturyRanges = [{ throughYear: 99, century: 1900 }];
const IN_2000S_THROUGH_36_ELSE_1900S: CenturyRanges = [
  { throughYear: 36, century: 2000 },
  { throughYear: 99, century: 1900 },
];
const IN_2000S_THROUGH_57_ELSE_1800S: CenturyRanges = [
  { throughYear: 57, century: 2000 },
  { throughYear: 99, century: 1800 },
];

/** Indexed by the 7th digit, the first of the serial number. */
const CENTURY_RANGES_BY_SEVENTH_DIGIT: readonly CenturyRanges[] = [
  IN_1900S,
  IN_1900S,
  IN_1900S,
  IN_1900S,
  IN_2000S_THROUGH_36_ELSE_1900S,
  IN_2000S_THROUGH_57_ELSE_1800S,
  IN_2000S_THROUGH_57_ELSE_1800S,
  IN_2000S_THROUGH_57_ELSE_1800S,
  IN_2000S_THROUGH_57_ELSE_1800S,
  IN_2000S_THROUGH_36_ELSE_1900S,
];

const WRITTEN_FORM = /^(\d{2})(\d{2})(\d{2})-?(\d{4})$/;

/**
 * Only the date is checked: since 2007 CPR numbers are issued that fail the old modulus-11
 * check, so it would reject real people.
 */
export const danishPersonalNumber = rulesFromParser(parseDanishPersonalNumber);

function parseDanishPersonalNumber(input: string): ParsedPersonalNumber | undefined {
  const written = WRITTEN_FORM.exec(input.trim());
  if (!written) return undefined;
  const [, dd = '', mm = '', yy = '', serial = ''] = written;
  const year = Number(yy);
  const century = CENTURY_RANGES_BY_SEVENTH_DIGIT[Number(serial[0])]?.find(
    (range) => year <= range.throughYear,
  )?.century;
  if (century === undefined) return undefined;
  const dateOfBirth = calendarDate(century + year, Number(mm), Number(dd));
  return dateOfBirth ? { canonical: `${dd}${mm}${yy}${serial}`, dateOfBirth } : undefined;
}

/** Denmark: its personal numbers, and the 6 characters of one that are the date of birth (DDMMYY SSSS). */
export const denmark = defineCountry('DK', danishPersonalNumber, 6);
