import { describe, expect, it } from 'vitest';
import { danishPersonalNumber, denmark } from '../../providers/countries/dk.js';
import { finland, finnishPersonalNumber } from '../../providers/countries/fi.js';
import { createNorwegianPersonalNumber, norway, norwegianPersonalNumber } from '../../providers/countries/no.js';
import { createSwedishPersonalNumber, sweden, swedishPersonalNumber } from '../../providers/countries/se.js';
import { ageOn } from '../../src/identity/calendar.js';

const GARBAGE = ['', '   ', 'abcdefghij', 'not a number', '12345', '1234567890123', '😀'];

describe('Swedish personnummer', () => {
  const sweden = createSwedishPersonalNumber({ now: () => new Date('2024-06-15T12:00:00Z') });

  it.each([
    ['198112189876', '198112189876', '1981-12-18'],
    ['19811218-9876', '198112189876', '1981-12-18'],
    ['811218-9876', '198112189876', '1981-12-18'],
    ['8112189876', '198112189876', '1981-12-18'],
    [' 811218-9876 ', '198112189876', '1981-12-18'],
    ['194107086995', '194107086995', '1941-07-08'],
    ['640823-3234', '196408233234', '1964-08-23'],
    ['191212121212', '191212121212', '1912-12-12'],
    ['000229-1235', '200002291235', '2000-02-29'],
  ])('reads %s as %s, born %s', (input, canonical, dateOfBirth) => {
    expect(sweden.normalize(input)).toBe(canonical);
    expect(sweden.isValid(input)).toBe(true);
    expect(sweden.dateOfBirth(input)).toBe(dateOfBirth);
  });

  it('reads a 10-digit number with + as someone aged 100 or more', () => {
    expect(sweden.normalize('121212+1212')).toBe('191212121212');
    expect(sweden.normalize('121212-1212')).toBe('201212121212');
    expect(sweden.dateOfBirth('121212+1212')).toBe('1912-12-12');
  });

  it('picks the century that makes a 10-digit number 0–99 years old today', () => {
    expect(sweden.normalize('2406011235')).toBe('202406011235');
    expect(sweden.normalize('2407011234')).toBe('192407011234');
    expect(sweden.normalize('240701-1234')).toBe('192407011234');
  });

  it('derives the date of birth of a coordination number by subtracting 60 from the day', () => {
    expect(sweden.normalize('701063-2383')).toBe('197010632383');
    expect(sweden.normalize('197010632383')).toBe('197010632383');
    expect(sweden.dateOfBirth('701063-2383')).toBe('1970-10-03');
  });

  it.each([
    ['198112189877', 'Luhn failure'],
    ['811218-9875', 'Luhn failure, 10 digits'],
    ['190101012017', 'Luhn failure: the check digit of 010101201 is 1'],
    ['198702301238', 'no 30 February, despite a correct check digit'],
    ['190002291235', '1900 was no leap year'],
    ['000229+1235', '+ puts it in 1900, which was no leap year'],
    ['202407011234', 'born after today'],
    ['19811218+9876', '+ only belongs in the 10-digit form'],
    ['198112929875', 'day 92 is beyond coordination numbers too'],
    ['811218 9876', 'space separator'],
    ['81121898766', '11 digits'],
  ])('rejects %s (%s)', (input) => {
    expect(sweden.normalize(input)).toBeUndefined();
    expect(sweden.isValid(input)).toBe(false);
    expect(sweden.dateOfBirth(input)).toBeUndefined();
  });

  it.each(GARBAGE)('rejects garbage %j', (input) => {
    expect(sweden.isValid(input)).toBe(false);
  });

  it('reads "now" from the clock on every call', () => {
    let now = new Date('2024-06-15T12:00:00Z');
    const rules = createSwedishPersonalNumber({ now: () => now });
    expect(rules.normalize('2407011234')).toBe('192407011234');
    now = new Date('2024-07-01T12:00:00Z');
    expect(rules.normalize('2407011234')).toBe('202407011234');
  });

  it('defaults to the system clock', () => {
    expect(swedishPersonalNumber.normalize('811218-9876')).toBe('198112189876');
  });
});

describe('Norwegian fødselsnummer', () => {
  it.each([
    ['15057512315', '1975-05-15'],
    ['23086634589', '1966-08-23'],
    ['12038710700', '1987-03-12'],
    ['31129949980', '1999-12-31'],
  ])('accepts %s, born %s', (input, dateOfBirth) => {
    expect(norwegianPersonalNumber.normalize(input)).toBe(input);
    expect(norwegianPersonalNumber.isValid(input)).toBe(true);
    expect(norwegianPersonalNumber.dateOfBirth(input)).toBe(dateOfBirth);
  });

  it.each([
    ['01015450068', '1854-01-01', 'individual 500–749, year 54: the earliest 1800s year'],
    ['01016050012', '1860-01-01', 'individual 500–749 in the 1800s'],
    ['31129974063', '1899-12-31', 'individual 740, year 99: the last 1800s day'],
    ['01010050053', '2000-01-01', 'individual 500–999, year 00'],
    ['24122099047', '2020-12-24', 'individual 990 in the 2000s'],
    ['31123995085', '2039-12-31', 'year 39: the last 2000s year'],
    ['17050575187', '2005-05-17', 'individual 750–899 only in the 2000s'],
    ['01014090017', '1940-01-01', 'individual 900–999, year 40: back in the 1900s'],
    ['31129990077', '1999-12-31', 'individual 900–999 in the 1900s'],
    ['29020050088', '2000-02-29', '2000 was a leap year'],
  ])('reads the century of %s as %s (%s)', (input, dateOfBirth) => {
    expect(norwegianPersonalNumber.dateOfBirth(input)).toBe(dateOfBirth);
  });

  it('accepts D-numbers, whose day is increased by 40', () => {
    expect(norwegianPersonalNumber.dateOfBirth('41019012393')).toBe('1990-01-01');
    expect(norwegianPersonalNumber.dateOfBirth('71129949974')).toBe('1999-12-31');
    expect(norwegianPersonalNumber.dateOfBirth('55028520076')).toBe('1985-02-15');
  });

  it('rejects H-numbers, whose month is increased by 40', () => {
    expect(norwegianPersonalNumber.isValid('01419012382')).toBe(false);
  });

  it('accepts Tenor test numbers (month + 80) only when asked to', () => {
    const tenor = createNorwegianPersonalNumber({ acceptTenorTestNumbers: true });
    expect(norwegianPersonalNumber.isValid('01839012345')).toBe(false);
    expect(tenor.dateOfBirth('01839012345')).toBe('1990-03-01');
    expect(tenor.dateOfBirth('15057512315')).toBe('1975-05-15');
  });

  it('rejects every number whose computed check digit is 10', () => {
    const validNumbersStartingWith = (prefix: string) => {
      const missing = 11 - prefix.length;
      const candidates = Array.from(
        { length: 10 ** missing },
        (_, n) => `${prefix}${String(n).padStart(missing, '0')}`,
      );
      return candidates.filter((candidate) => norwegianPersonalNumber.isValid(candidate));
    };
    expect(validNumbersStartingWith('150575123')).toEqual(['15057512315']);
    // The first check digit of 150575000 would be 10, and so would the second of 1505750018.
    expect(validNumbersStartingWith('150575000')).toEqual([]);
    expect(validNumbersStartingWith('1505750018')).toEqual([]);
  });

  it.each([
    ['15057512316', 'second check digit off'],
    ['15057512325', 'first check digit off'],
    ['01014050066', 'individual 500–749 with year 40–53 was never issued'],
    ['01015360190', 'individual 500–749 with year 53 was never issued'],
    ['31129975019', 'individual 750–899 with year 40–99 was never issued'],
    ['01016080000', 'individual 800 with year 60 was never issued'],
    ['150575-12315', 'separator'],
    ['1505751231', '10 digits'],
  ])('rejects %s (%s)', (input) => {
    expect(norwegianPersonalNumber.normalize(input)).toBeUndefined();
    expect(norwegianPersonalNumber.dateOfBirth(input)).toBeUndefined();
  });

  it.each(GARBAGE)('rejects garbage %j', (input) => {
    expect(norwegianPersonalNumber.isValid(input)).toBe(false);
  });
});

describe('Finnish henkilötunnus', () => {
  it.each([
    ['131052-308T', '131052-308T', '1952-10-13'],
    ['311299-0029', '311299-0029', '1999-12-31'],
    ['010188+0027', '010188+0027', '1888-01-01'],
    ['010100A123D', '010100A123D', '2000-01-01'],
    ['010100a123d', '010100A123D', '2000-01-01'],
    ['290200A002C', '290200A002C', '2000-02-29'],
    ['121212B345M', '121212B345M', '2012-12-12'],
    ['121212U345M', '121212U345M', '1912-12-12'],
    ['010120F899L', '010120F899L', '2020-01-01'],
  ])('reads %s as %s, born %s', (input, canonical, dateOfBirth) => {
    expect(finnishPersonalNumber.normalize(input)).toBe(canonical);
    expect(finnishPersonalNumber.isValid(input)).toBe(true);
    expect(finnishPersonalNumber.dateOfBirth(input)).toBe(dateOfBirth);
  });

  it.each([
    ['+', '1800-01-01'],
    ...['-', 'Y', 'X', 'W', 'V', 'U'].map((sign) => [sign, '1900-01-01']),
    ...['A', 'B', 'C', 'D', 'E', 'F'].map((sign) => [sign, '2000-01-01']),
  ])('reads century sign %s as born %s', (sign, dateOfBirth) => {
    expect(finnishPersonalNumber.dateOfBirth(`010100${sign}123D`)).toBe(dateOfBirth);
  });

  it('accepts temporary numbers (individual number 900–999)', () => {
    expect(finnishPersonalNumber.dateOfBirth('010594Y9021')).toBe('1994-05-01');
    expect(finnishPersonalNumber.dateOfBirth('150599-950W')).toBe('1999-05-15');
    expect(finnishPersonalNumber.dateOfBirth('311299-999E')).toBe('1999-12-31');
  });

  it('trims surrounding whitespace and uppercases the check character', () => {
    expect(finnishPersonalNumber.normalize(' 131052-308t ')).toBe('131052-308T');
  });

  it.each([
    ['131052-308U', 'wrong check character'],
    ['131052G308T', 'G is no century sign'],
    ['131052Z308T', 'Z is no century sign'],
    ['010101-001R', 'individual number 001 is never issued'],
    ['290200-002C', '1900 was no leap year'],
    ['300290-1235', 'no 30 February, despite a correct check character'],
    ['131052308T', 'no century sign'],
    ['131052--308T', 'too long'],
  ])('rejects %s (%s)', (input) => {
    expect(finnishPersonalNumber.normalize(input)).toBeUndefined();
    expect(finnishPersonalNumber.dateOfBirth(input)).toBeUndefined();
  });

  it.each(GARBAGE)('rejects garbage %j', (input) => {
    expect(finnishPersonalNumber.isValid(input)).toBe(false);
  });
});

describe('Danish CPR', () => {
  it.each([
    ['070761-4285', '0707614285', '1961-07-07'],
    ['0707614285', '0707614285', '1961-07-07'],
    ['010170-4000', '0101704000', '1970-01-01'],
    ['150385-0001', '1503850001', '1985-03-15'],
    ['241299-0123', '2412990123', '1999-12-24'],
  ])('reads %s as %s, born %s', (input, canonical, dateOfBirth) => {
    expect(danishPersonalNumber.normalize(input)).toBe(canonical);
    expect(danishPersonalNumber.isValid(input)).toBe(true);
    expect(danishPersonalNumber.dateOfBirth(input)).toBe(dateOfBirth);
  });

  it('does not require the modulus-11 check, which numbers since 2007 may fail', () => {
    expect(danishPersonalNumber.isValid('010170-4000')).toBe(true);
  });

  it.each([
    ['010105-3999', '1905-01-01', '7th digit 0–3: always the 1900s'],
    ['010136-4000', '2036-01-01', '7th digit 4, year 36: the 2000s'],
    ['010137-4000', '1937-01-01', '7th digit 4, year 37: the 1900s'],
    ['010136-9000', '2036-01-01', '7th digit 9, year 36: the 2000s'],
    ['010137-9000', '1937-01-01', '7th digit 9, year 37: the 1900s'],
    ['010157-5000', '2057-01-01', '7th digit 5, year 57: the 2000s'],
    ['010158-8999', '1858-01-01', '7th digit 8, year 58: the 1800s'],
    ['010120-6000', '2020-01-01', '7th digit 6, year 20: the 2000s'],
    ['290200-4000', '2000-02-29', '2000 was a leap year'],
  ])('reads the century of %s as %s (%s)', (input, dateOfBirth) => {
    expect(danishPersonalNumber.dateOfBirth(input)).toBe(dateOfBirth);
  });

  it.each([
    ['290200-1234', '7th digit 1 puts it in 1900, which was no leap year'],
    ['300290-1234', 'no 30 February'],
    ['320190-1234', 'no 32nd day'],
    ['011390-1234', 'no 13th month'],
    ['070761 4285', 'space separator'],
    ['070761+4285', '+ separator'],
    ['07076142851', '11 digits'],
  ])('rejects %s (%s)', (input) => {
    expect(danishPersonalNumber.normalize(input)).toBeUndefined();
    expect(danishPersonalNumber.dateOfBirth(input)).toBeUndefined();
  });

  it.each(GARBAGE)('rejects garbage %j', (input) => {
    expect(danishPersonalNumber.isValid(input)).toBe(false);
  });
});

describe('the countries of the built-in eIDs', () => {
  it.each([
    [sweden, 'SE', '198112189876', '1981-12-18'],
    [norway, 'NO', '15057512315', '1975-05-15'],
    [finland, 'FI', '131052-308T', '1952-10-13'],
    [denmark, 'DK', '070761-4285', '1961-07-07'],
  ] as const)('carry their code and the rules of their numbers ($1)', (country, code, input, dateOfBirth) => {
    expect(country.code).toBe(code);
    expect(country.personalNumbers.dateOfBirth(input)).toBe(dateOfBirth);
  });

  it('rejects the numbers of one country under the rules of another', () => {
    expect(sweden.personalNumbers.isValid('15057512315')).toBe(false);
    expect(norway.personalNumbers.isValid('198112189876')).toBe(false);
    expect(finland.personalNumbers.isValid('070761-4285')).toBe(false);
  });
});

describe('ageOn', () => {
  it('counts whole years, turning a year older on the birthday', () => {
    expect(ageOn('1981-12-18', new Date('2024-12-17T23:59:59Z'))).toBe(42);
    expect(ageOn('1981-12-18', new Date('2024-12-18T00:00:00Z'))).toBe(43);
    expect(ageOn('2024-06-15', new Date('2024-06-15T00:00:00Z'))).toBe(0);
  });

  it('makes someone born on 29 February a year older on 1 March in non-leap years', () => {
    expect(ageOn('2000-02-29', new Date('2023-02-28T12:00:00Z'))).toBe(22);
    expect(ageOn('2000-02-29', new Date('2023-03-01T12:00:00Z'))).toBe(23);
    expect(ageOn('2000-02-29', new Date('2024-02-28T12:00:00Z'))).toBe(23);
    expect(ageOn('2000-02-29', new Date('2024-02-29T12:00:00Z'))).toBe(24);
  });

  it('rejects a date of birth that is not YYYY-MM-DD', () => {
    expect(() => ageOn('18/12/1981', new Date())).toThrow(RangeError);
  });
});
