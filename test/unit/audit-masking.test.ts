import { describe, expect, it } from 'vitest';
import { maskPersonalNumber } from '../../src/audit/events.js';

describe('personal numbers in audit events', () => {
  it.each([
    ['SE', '198711261234', '19871126****'],
    ['NO', '01017012345', '010170*****'],
    ['FI', '150385-1230', '150385-****'],
    ['FI', '010105A123X', '010105A****'],
    ['DK', '0101904567', '010190****'],
  ] as const)('keep only the date of birth of a %s number', (country, number, masked) => {
    expect(maskPersonalNumber(country, number)).toBe(masked);
    expect(maskPersonalNumber(country, number)).toHaveLength(number.length);
  });
});
