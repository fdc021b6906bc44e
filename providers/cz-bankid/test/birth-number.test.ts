import { describe, expect, it } from 'vitest';
import { czechia, parseBirthNumber } from '../birth-number.js';

const today = { now: () => new Date('2026-06-15T12:00:00Z') };
const parse = (input: string) => parseBirthNumber(input, today);

describe('Czech birth number (rodné číslo)', () => {
  it.each([
    ['8507151235', '1985-07-15', 'a man, ten digits'],
    ['850715/1235', '1985-07-15', 'the written form with its slash'],
    [' 8507151235 ', '1985-07-15', 'surrounding spaces'],
    ['9053024563', '1990-03-02', 'a woman: month + 50'],
    ['7555220013', '1975-05-22', 'a woman, May'],
    ['7103192745', '1971-03-19', "python-stdnum's example"],
    ['5401010010', '1954-01-01', 'the first day of ten-digit numbers'],
    ['1025057891', '2010-05-05', 'a man born in 2010: month + 20'],
    ['0572150007', '2005-02-15', 'a woman born in 2005: month + 70'],
    ['1078150018', '2010-08-15', 'a woman born in 2010: month + 70, August'],
    ['0451050028', '2004-01-05', 'a woman born in 2004: month + 50'],
    ['0402291230', '2004-02-29', 'a leap day'],
  ])('reads %s as born %s (%s)', (input, dateOfBirth) => {
    expect(parse(input!)).toEqual({ canonical: input!.trim().replace('/', ''), dateOfBirth });
  });

  it.each([
    ['450101123', '1945-01-01'],
    ['536231001', '1953-12-31'],
    ['201224/001', '1920-12-24'],
  ])('reads the nine-digit %s (born up to 1953, no check digit) as born %s', (input, dateOfBirth) => {
    expect(parse(input!)?.dateOfBirth).toBe(dateOfBirth);
    expect(parse(input!)?.canonical).toHaveLength(9);
  });

  it('accepts the remainder-10 exception: the first nine digits leave 10, the last digit is 0', () => {
    // 800101004 mod 11 = 10, so the whole number is not divisible by 11, yet valid.
    expect(Number('800101004') % 11).toBe(10);
    expect(Number('8001010040') % 11).not.toBe(0);
    expect(parse('8001010040')).toEqual({ canonical: '8001010040', dateOfBirth: '1980-01-01' });
    expect(parse('7001010050')?.dateOfBirth).toBe('1970-01-01');
    // With remainder 10, any last digit but 0 is wrong — also the one that would make it divisible by 11.
    expect(parse('8001010041')).toBeUndefined();
  });

  it.each([
    ['7103192746', 'the check digit is wrong'],
    ['8507151236', 'the check digit is wrong'],
    ['7008010147', "Bank iD's sandbox sample: not divisible by 11"],
    ['1103492745', "python-stdnum's example: day 49 of March does not exist"],
    ['1101700140', "Bank iD's spec sample: day 70"],
    ['7302291238', 'no 29 February in 1973, despite a correct check digit'],
    ['8513151233', 'month 13'],
    ['8500151230', 'month 0'],
    ['8563151233', 'month 63 (a woman cannot have month 13)'],
    ['8521151230', 'month + 20 before 2004'],
    ['0372150004', 'month + 70 before 2004'],
    ['8545151230', 'month 45: between the offsets'],
    ['540101123', 'nine digits after 1953'],
    ['990101123', 'nine digits in the 1990s'],
    ['535231001', 'no 31 February, in a nine-digit number'],
  ])('refuses %s: %s', (input) => {
    expect(parse(input!)).toBeUndefined();
  });

  it('refuses a birth date after today, which only a ten-digit number in the 2000s can have', () => {
    // 261224000 mod 11 = 4: a correct check digit, born 2026-12-24.
    expect(parse('2612240004')).toBeUndefined();
    expect(parseBirthNumber('2612240004', { now: () => new Date('2027-01-01T00:00:00Z') })?.dateOfBirth).toBe('2026-12-24');
  });

  it.each(['', '   ', 'abcdefghij', '85071512', '85071512345', '8507-151235', '85/07151235', '850715//1235', '８５０７１５１２３５'])(
    'refuses what is no birth number: %j',
    (input) => {
      expect(parse(input)).toBeUndefined();
    },
  );

  it('is Czechia’s personal number: canonical without the slash, with its date of birth', () => {
    expect(czechia.code).toBe('CZ');
    expect(czechia.personalNumbers.normalize('850715/1235')).toBe('8507151235');
    expect(czechia.personalNumbers.dateOfBirth('9053024563')).toBe('1990-03-02');
    expect(czechia.personalNumbers.isValid('7008010147')).toBe(false);
  });

  it('masks the suffix and keeps the date part (YYMMDD, as written) for the audit trail', () => {
    expect(czechia.maskPersonalNumber('8507151235')).toBe('850715****');
    expect(czechia.maskPersonalNumber('450101123')).toBe('450101***');
  });
});
