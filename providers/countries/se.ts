import { calendarDate, defineCountry, isoDate, rulesFromParser, type ParsedPersonalNumber, type PersonalNumberRules } from '../../src/eids/sdk.js';

export interface SwedishPersonalNumberOptions {
  /**
   * Today, as far as the rules are concerned: a 10-digit number only has a century relative to
   * it, and a birth date after it is invalid. Defaults to the system clock.
   */
  now?: () => Date;
}

/** Samordningsnummer carry the day of birth plus this. */
const COORDINATION_DAY_OFFSET = 60;

const FULL_YEAR_FORM = /^(\d{4})(\d{2})(\d{2})-?(\d{3})(\d)$/;
const SHORT_YEAR_FORM = /^(\d{2})(\d{2})(\d{2})([-+]?)(\d{3})(\d)$/;

interface WrittenNumber {
  /** Undefined in the 10-digit forms, where the century has to be inferred. */
  century: string | undefined;
  yy: string;
  mm: string;
  dd: string;
  /** `+` marks someone aged 100 or more in the 10-digit form. */
  separator: string;
  serial: string;
  checkDigit: string;
}

export function createSwedishPersonalNumber(
  options: SwedishPersonalNumberOptions = {},
): PersonalNumberRules {
  const now = options.now ?? (() => new Date());
  return rulesFromParser((input) => parseSwedishPersonalNumber(input, isoDate(now())));
}

export const swedishPersonalNumber = createSwedishPersonalNumber();

function parseSwedishPersonalNumber(
  input: string,
  today: string,
): ParsedPersonalNumber | undefined {
  const written = readWrittenNumber(input.trim());
  if (!written) return undefined;
  const { yy, mm, dd, serial, checkDigit } = written;
  if (luhnCheckDigit(`${yy}${mm}${dd}${serial}`) !== checkDigit) return undefined;

  const birthDay = dayOfBirth(Number(dd));
  const year = written.century === undefined
    ? inferYear(written, birthDay, today)
    : Number(`${written.century}${yy}`);
  const dateOfBirth = calendarDate(year, Number(mm), birthDay);
  if (!dateOfBirth || dateOfBirth > today) return undefined;
  return { canonical: `${year}${mm}${dd}${serial}${checkDigit}`, dateOfBirth };
}

function readWrittenNumber(input: string): WrittenNumber | undefined {
  const full = FULL_YEAR_FORM.exec(input);
  if (full) {
    const [, year = '', mm = '', dd = '', serial = '', checkDigit = ''] = full;
    const [century, yy] = [year.slice(0, 2), year.slice(2)];
    return { century, yy, mm, dd, separator: '', serial, checkDigit };
  }
  const short = SHORT_YEAR_FORM.exec(input);
  if (short) {
    const [, yy = '', mm = '', dd = '', separator = '', serial = '', checkDigit = ''] = short;
    return { century: undefined, yy, mm, dd, separator, serial, checkDigit };
  }
  return undefined;
}

/** Coordination numbers use days 61–91; anything else is read as written and checked as a date. */
function dayOfBirth(writtenDay: number): number {
  return writtenDay > COORDINATION_DAY_OFFSET ? writtenDay - COORDINATION_DAY_OFFSET : writtenDay;
}

/**
 * The year ending in `yy` that makes the person 0–99 years old today, or a century earlier
 * for `+`. Compared as text so that a day that does not exist (0230) still gets a year and is
 * rejected afterwards as a date, not here.
 */
function inferYear(written: WrittenNumber, birthDay: number, today: string): number {
  const currentCentury = Math.floor(Number(today.slice(0, 4)) / 100) * 100;
  const candidate = currentCentury + Number(written.yy);
  const birthdayInCandidate = `${candidate}-${written.mm}-${String(birthDay).padStart(2, '0')}`;
  const under100 = birthdayInCandidate > today ? candidate - 100 : candidate;
  return written.separator === '+' ? under100 - 100 : under100;
}

/** Luhn over the 10-digit form, weighting from the left 2, 1, 2, … as Skatteverket does. */
function luhnCheckDigit(digits: string): string {
  let sum = 0;
  for (const [index, digit] of [...digits].entries()) {
    const product = Number(digit) * (index % 2 === 0 ? 2 : 1);
    sum += product > 9 ? product - 9 : product;
  }
  return String((10 - (sum % 10)) % 10);
}

/** Sweden: its personal numbers, and the 8 characters of one that are the date of birth (YYYYMMDD NNNC). */
export const sweden = defineCountry('SE', swedishPersonalNumber, 8);
