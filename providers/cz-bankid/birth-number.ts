import { calendarDate, defineCountry, isoDate, rulesFromParser, type ParsedPersonalNumber } from '../../src/eids/sdk.js';

/**
 * The Czech birth number (rodné číslo): YYMMDD and a suffix, written YYMMDD/XXXX (Bank iD sends
 * the digits alone, which is also the canonical form here).
 *
 * - Born up to 1953: nine digits, a three-digit suffix and no check digit.
 * - Born from 1954: ten digits, the whole number divisible by 11 — or, when the first nine
 *   leave remainder 10, a last digit of 0 (issued so until 1985; accepted at any date, since
 *   rejecting a number some person holds is worse than accepting one never issued).
 * - The month tells more than the month: women +50, and from 2004, when a day's suffixes run
 *   out, +20 (men) or +70 (women).
 */

export interface BirthNumberOptions {
  /** Today, as far as the rules are concerned: a birth date after it is invalid. Defaults to the clock. */
  now?: () => Date;
}

const WRITTEN_FORM = /^(\d{2})(\d{2})(\d{2})\/?(\d{3,4})$/;

/** The last year of nine-digit numbers; ten-digit ones with a two-digit year above it are in the 1900s. */
const LAST_NINE_DIGIT_YEAR = 53;

/** The month offsets a number may carry, and the first year each was issued in. */
const MONTH_OFFSETS: readonly { offset: number; since: number }[] = [
  { offset: 0, since: 0 },
  { offset: 50, since: 0 },
  { offset: 20, since: 2004 },
  { offset: 70, since: 2004 },
];

/** The birth number read, or undefined when `input` is not a valid one. */
export function parseBirthNumber(input: string, options: BirthNumberOptions = {}): ParsedPersonalNumber | undefined {
  const written = WRITTEN_FORM.exec(input.trim());
  if (!written) return undefined;
  const [, yy = '', mm = '', dd = '', suffix = ''] = written;
  const canonical = `${yy}${mm}${dd}${suffix}`;
  const tenDigits = suffix.length === 4;
  if (tenDigits && !hasValidCheckDigit(canonical)) return undefined;
  if (!tenDigits && Number(yy) > LAST_NINE_DIGIT_YEAR) return undefined;
  const year = (tenDigits && Number(yy) <= LAST_NINE_DIGIT_YEAR ? 2000 : 1900) + Number(yy);
  const month = monthOf(Number(mm), year);
  const dateOfBirth = month === undefined ? undefined : calendarDate(year, month, Number(dd));
  const today = isoDate(options.now?.() ?? new Date());
  return dateOfBirth && dateOfBirth <= today ? { canonical, dateOfBirth } : undefined;
}

/** The calendar month of a written month, given the year (the extended offsets came in 2004). */
function monthOf(written: number, year: number): number | undefined {
  const match = MONTH_OFFSETS.find(({ offset, since }) => year >= since && written - offset >= 1 && written - offset <= 12);
  return match && written - match.offset;
}

function hasValidCheckDigit(digits: string): boolean {
  const remainder = Number(digits.slice(0, 9)) % 11;
  return Number(digits[9]) === remainder % 10;
}

/**
 * Czechia as the identity model knows it: birth numbers as personal numbers, and the audit trail
 * showing their first six digits (YYMMDD, as written) with the suffix masked.
 */
export const czechia = defineCountry('CZ', rulesFromParser((input) => parseBirthNumber(input)), 6);
