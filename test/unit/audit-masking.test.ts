import { describe, expect, it } from 'vitest';
import { denmark } from '../../providers/countries/dk.js';
import { finland } from '../../providers/countries/fi.js';
import { norway } from '../../providers/countries/no.js';
import { sweden } from '../../providers/countries/se.js';

describe('personal numbers in audit events', () => {
  it.each([
    [sweden, '198711261234', '19871126****'],
    [norway, '01017012345', '010170*****'],
    [finland, '150385-1230', '150385-****'],
    [finland, '010105A123X', '010105A****'],
    [denmark, '0101904567', '010190****'],
  ] as const)('keep only the date of birth of a $code number', (country, number, masked) => {
    expect(country.maskPersonalNumber(number)).toBe(masked);
    expect(country.maskPersonalNumber(number)).toHaveLength(number.length);
  });
});
