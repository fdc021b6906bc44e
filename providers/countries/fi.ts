import { calendarDate, defineCountry, rulesFromParser, type ParsedPersonalNumber } from '../../src/eids/sdk.js';

/** Indexed by the nine digits DDMMYYZZZ modulo 31; letters that look like digits are left out. */
const CHECK_CHARACTERS = '0123456789ABCDEFHJKLMNPRSTUVWXY';

/** Since 2023 the 1900s and 2000s each have several signs, so that numbers do not run out. */
const CENTURY_BY_SIGN: Readonly<Record<string, number>> = {
  '+': 1800,
  '-': 1900, Y: 1900, X: 1900, W: 1900, V: 1900, U: 1900,
  A: 2000, B: 2000, C: 2000, D: 2000, E: 2000, F: 2000,
};

const WRITTEN_FORM = /^(\d{2})(\d{2})(\d{2})(.)(\d{3})(.)$/;

/** 000 and 001 are never issued; 900–999 are temporary numbers, which are still valid. */
const LOWEST_INDIVIDUAL_NUMBER = 2;

export const finnishPersonalNumber = rulesFromParser(parseFinnishPersonalNumber);

function parseFinnishPersonalNumber(input: string): ParsedPersonalNumber | undefined {
  const canonical = input.trim().toUpperCase();
  const [, dd = '', mm = '', yy = '', centurySign = '', individual = '', checkCharacter = ''] =
    WRITTEN_FORM.exec(canonical) ?? [];
  const century = CENTURY_BY_SIGN[centurySign];
  if (century === undefined || Number(individual) < LOWEST_INDIVIDUAL_NUMBER) return undefined;
  const checkIndex = Number(`${dd}${mm}${yy}${individual}`) % CHECK_CHARACTERS.length;
  if (CHECK_CHARACTERS[checkIndex] !== checkCharacter) return undefined;
  const dateOfBirth = calendarDate(century + Number(yy), Number(mm), Number(dd));
  return dateOfBirth ? { canonical, dateOfBirth } : undefined;
}

/** Finland: its personal numbers, and the 7 characters of one that are the date of birth (DDMMYY, the century sign, ZZZQ). */
export const finland = defineCountry('FI', finnishPersonalNumber, 7);
