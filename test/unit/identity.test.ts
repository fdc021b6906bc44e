import { describe, expect, it } from 'vitest';
import { denmark } from '../../providers/countries/dk.js';
import { norway } from '../../providers/countries/no.js';
import { sweden } from '../../providers/countries/se.js';
import type { CompletionData } from '../../providers/se-bankid/api/types.js';
import { personOf } from '../../providers/se-bankid/completion.js';
import { completeIdentity } from '../../src/identity/identity.js';
import { identityClaims } from '../../src/oidc/claims.js';
import { Subjects } from '../../src/oidc/subject.js';

const eid = { id: 'se-bankid', country: sweden };
const now = new Date('2026-11-22T10:00:00Z');

describe('completeIdentity', () => {
  it('derives the canonical number, date of birth, age and full name', () => {
    expect(
      completeIdentity(eid, { FirstName: 'Tessa', LastName: 'Testsson', PersonalNumber: '811218-9876', IdProviderRequestId: 'order-1' }, now),
    ).toEqual({
      CountryCode: 'SE',
      FirstName: 'Tessa',
      LastName: 'Testsson',
      FullName: 'Tessa Testsson',
      PersonalNumber: '198112189876',
      DateOfBirth: '1981-12-18',
      Age: 44,
      IdProviderName: 'se-bankid',
      IdentificationDate: '2026-11-22T10:00:00.000Z',
      IdProviderRequestId: 'order-1',
    });
  });

  it('refuses a personal number that is not valid for the country', () => {
    expect(() => completeIdentity(eid, { PersonalNumber: '198112189875', IdProviderRequestId: 'x' }, now)).toThrow(/not valid for SE/);
  });

  it('keeps what the eID gave when it has no personal number', () => {
    const identity = completeIdentity(
      { id: 'dk-mitid', country: denmark },
      { FullName: 'Mette Hansen', DateOfBirth: '1990-05-01', IdProviderPersonId: 'uuid-1', IdProviderRequestId: 'r' },
      now,
    );
    expect(identity).toMatchObject({ FullName: 'Mette Hansen', DateOfBirth: '1990-05-01', Age: 36, IdProviderPersonId: 'uuid-1' });
    expect(identity.PersonalNumber).toBeUndefined();
  });
});

describe('claims', () => {
  it('map the identity to the documented claim names and leave out what is absent', () => {
    const identity = completeIdentity(eid, { FirstName: 'A', LastName: 'B', PersonalNumber: '198112189876', IdProviderRequestId: 'o' }, now);
    expect(identityClaims(identity, now)).toEqual({
      name: 'A B',
      given_name: 'A',
      family_name: 'B',
      birthdate: '1981-12-18',
      age: 44,
      age_over_13: true,
      age_over_15: true,
      age_over_16: true,
      age_over_18: true,
      age_over_20: true,
      age_over_21: true,
      age_over_65: false,
      personal_number: '198112189876',
      country: 'SE',
      idp: 'se-bankid',
      idp_request_id: 'o',
      identification_date: '2026-11-22T10:00:00.000Z',
    });
  });

  it('count the age on the day the claims are released: a refreshed token after a birthday says so', () => {
    const identity = completeIdentity(eid, { FirstName: 'A', LastName: 'B', DateOfBirth: '2008-11-29', IdProviderRequestId: 'o' }, new Date('2026-11-28T12:00:00Z'));
    expect(identityClaims(identity, new Date('2026-11-28T12:00:00Z'))).toMatchObject({ age: 17, age_over_18: false });
    expect(identityClaims(identity, new Date('2026-11-29T12:00:00Z'))).toMatchObject({ age: 18, age_over_18: true });
  });

  it('pass contact details on as OIDC claims, and never the device address', () => {
    const address = { street_address: 'Storgata 1A', postal_code: '0155', locality: 'Oslo', country: 'NO' };
    const identity = completeIdentity(
      { id: 'no-bankid', country: norway },
      { FirstName: 'K', LastName: 'N', IdProviderRequestId: 'o', Email: 'k@example.no', PhoneNumber: '+4748058567', Address: address, DeviceIpAddress: '198.51.100.7' },
      now,
    );
    const claims = identityClaims(identity, now);
    expect(claims).toMatchObject({ email: 'k@example.no', phone_number: '+4748058567', address });
    expect(JSON.stringify(claims)).not.toContain('198.51.100.7');
  });
});

describe('Subjects', () => {
  const subjects = new Subjects('a-subject-secret-of-32-characters!');

  it('are stable per person and eID, different across eIDs and secrets, and never the number', () => {
    const sub = subjects.forPerson('se-bankid', '198112189876');
    expect(sub).toBe(subjects.forPerson('se-bankid', '198112189876'));
    expect(sub).not.toBe(subjects.forPerson('no-bankid', '198112189876'));
    expect(sub).not.toBe(new Subjects('another-subject-secret-of-32-chars').forPerson('se-bankid', '198112189876'));
    expect(sub).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('are different per sector when pairwise', () => {
    const sub = subjects.forPerson('se-bankid', '198112189876');
    expect(subjects.pairwise(sub, 'a.example')).not.toBe(subjects.pairwise(sub, 'b.example'));
    expect(subjects.pairwise(sub, 'a.example')).not.toBe(sub);
  });
});

describe("an eID's details beyond the identity", () => {
  it("BankID's completionData.device.ipAddress becomes the identity's DeviceIpAddress, the address of the phone", () => {
    const completion = {
      user: { personalNumber: '198112189876', name: 'Tessa Testsson', givenName: 'Tessa', surname: 'Testsson' },
      device: { ipAddress: '198.51.100.7', uhi: 'uhi' },
      bankIdIssueDate: '2024-01-01',
      signature: 'c2ln',
      ocspResponse: 'b2NzcA==',
    } as CompletionData;
    const person = personOf('order-1', completion, new Date('2026-01-02T03:04:05Z'));
    expect(completeIdentity(eid, person)).toMatchObject({ DeviceIpAddress: '198.51.100.7', PersonalNumber: '198112189876' });
  });
});
