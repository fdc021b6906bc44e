import { describe, expect, it } from 'vitest';
import { sweden } from '../../providers/countries/se.js';
import { ConfigError } from '../../src/config/load.js';
import { EidRegistry } from '../../src/eids/registry.js';
import { calendarDate, defineCountry, isCountryCode, rulesFromParser } from '../../src/eids/sdk.js';
import { completeIdentity } from '../../src/identity/identity.js';

/** A country the core has never heard of, defined the way a plugin does: slash-less Czech birth numbers, for the test. */
const czechia = defineCountry(
  'CZ',
  rulesFromParser((input) => {
    const match = /^(\d{2})(\d{2})(\d{2})\/?(\d{4})$/.exec(input);
    if (!match || Number(`${match[1]}${match[2]}${match[3]}${match[4]}`) % 11 !== 0) return undefined;
    const month = Number(match[2]) > 50 ? Number(match[2]) - 50 : Number(match[2]);
    const dateOfBirth = calendarDate(1900 + Number(match[1]), month, Number(match[3]));
    return dateOfBirth ? { canonical: `${match[1]}${match[2]}${match[3]}${match[4]}`, dateOfBirth } : undefined;
  }),
  6,
);

describe('country codes', () => {
  it.each(['SE', 'NO', 'FI', 'DK', 'CZ', 'DE', 'EE'])('takes the ISO 3166-1 alpha-2 code %s', (code) => {
    expect(isCountryCode(code)).toBe(true);
  });

  it.each(['', 'se', 'SWE', 'S', 'XX', 'QM', 'XA', 'ZZ', 'AA', '12', 'C Z'])('refuses %j', (code) => {
    expect(isCountryCode(code)).toBe(false);
  });

  it('are checked when a country is defined and when an eID is registered', () => {
    expect(() => defineCountry('XX', sweden.personalNumbers, 8)).toThrow(/XX is not an ISO 3166-1 alpha-2 country code/);
    const plugin = { id: 'made-up', country: { ...sweden, code: 'Sweden' }, acrValues: ['urn:test:made-up'], flow: 'redirect' as const, start: async () => ({ redirectTo: '/' }) };
    expect(() => new EidRegistry([plugin], { isAvailable: () => true })).toThrow(ConfigError);
  });
});

describe('a country brought by a plugin', () => {
  it('completes the identity with its personal number, date of birth and code', () => {
    const identity = completeIdentity({ id: 'cz-test', country: czechia }, { PersonalNumber: '855215/1234', IdProviderRequestId: 'r' }, new Date('2026-01-01T00:00:00Z'));
    expect(identity).toMatchObject({ CountryCode: 'CZ', PersonalNumber: '8552151234', DateOfBirth: '1985-02-15', Age: 40 });
  });

  it('masks its numbers in audit events as it says', () => {
    expect(czechia.maskPersonalNumber('8552151234')).toBe('855215****');
  });

  it('refuses a number its rules refuse', () => {
    expect(() => completeIdentity({ id: 'cz-test', country: czechia }, { PersonalNumber: '855215/1235', IdProviderRequestId: 'r' })).toThrow(/not valid for CZ/);
  });
});
