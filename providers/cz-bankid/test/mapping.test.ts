import { describe, expect, it } from 'vitest';
import { ACR, bankIdErrors, foreignProfile, noBirthNumber, outcomeOf } from '../mapping.js';

const SUB = '5b0c9d7e-2f41-4c55-9a0e-1d2c3b4a5f60';
const idToken = { sub: SUB, acr: 'loa3', amr: ['pwd', 'otp'], jti: 'jti-1', iat: 1767225600 };
const profile = {
  sub: SUB,
  txn: 'a7e1c0de-1111-4222-8333-444455556666:openid:profile.name',
  given_name: 'Petra',
  family_name: 'Dvořáková',
  birthdate: '1990',
  birthnumber: '9053024563',
  addresses: [
    { type: 'SECONDARY_RESIDENCE', street: 'Horní', streetnumber: '1', city: 'Jihlava', zipcode: '58601', country: 'CZ' },
    { type: 'PERMANENT_RESIDENCE', street: 'Lipová', buildingapartment: '812', streetnumber: '4', city: 'Brno', zipcode: '60200', country: 'CZ' },
  ],
};

describe("Bank iD's answers as the identity model", () => {
  it('takes the birth number as personal number and its date of birth (Bank iD may give a year alone)', () => {
    expect(outcomeOf(idToken, profile)).toEqual({
      person: {
        FirstName: 'Petra',
        LastName: 'Dvořáková',
        PersonalNumber: '9053024563',
        DateOfBirth: '1990-03-02',
        IdProviderPersonId: SUB,
        IdProviderRequestId: profile.txn,
        Address: { street_address: 'Lipová 812/4', postal_code: '60200', locality: 'Brno', country: 'CZ' },
      },
      acr: ACR,
      amr: ['pwd', 'otp'],
    });
  });

  it('prefers the claims the bank checked against the registers (verified_claims)', () => {
    const outcome = outcomeOf(idToken, { ...profile, given_name: 'Peťa', verified_claims: { verification: { trust_framework: 'cz_aml' }, claims: { given_name: 'Petra', birthnumber: '905302/4563' } } });
    expect(outcome).toMatchObject({ person: { FirstName: 'Petra', PersonalNumber: '9053024563' } });
  });

  it('refuses a profile about another person, and one without sub', () => {
    expect(outcomeOf(idToken, { ...profile, sub: 'someone-else' })).toEqual({ failure: foreignProfile });
    expect(outcomeOf(idToken, { ...profile, sub: undefined })).toEqual({ failure: foreignProfile });
  });

  it('needs a birth number that passes its check', () => {
    expect(outcomeOf(idToken, { ...profile, birthnumber: undefined })).toEqual({ failure: noBirthNumber });
    expect(outcomeOf(idToken, { ...profile, birthnumber: '7008010147' })).toMatchObject({ failure: { error: 'server_error' } });
  });

  it('refuses a level other than loa3', () => {
    expect(outcomeOf({ ...idToken, acr: 'loa2' }, profile)).toMatchObject({ failure: { error: 'insufficient_scope' } });
  });

  it('maps the error callbacks of Bank iD’s support document', () => {
    expect(bankIdErrors.access_denied).toMatchObject({ failure: { error: 'access_denied', ending: 'cancelled' }, cause: 'person' });
    expect(bankIdErrors.server_error).toMatchObject({ failure: { error: 'server_error' }, cause: 'outage' });
    expect(bankIdErrors.basic_registers_unavailable).toMatchObject({ failure: { error: 'server_error' }, cause: 'outage' });
    expect(bankIdErrors.eid_doesnt_exist).toMatchObject({ failure: { error: 'eid_doesnt_exist' }, cause: 'person' });
    expect(bankIdErrors.insufficient_scope).toMatchObject({ failure: { error: 'insufficient_scope' }, cause: 'person' });
  });
});
