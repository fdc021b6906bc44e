import { ageOn } from './calendar.js';
import type { CountryCode, CountryRules } from './country.js';

export type { CountryCode } from './country.js';

/** A postal address, in the members of OpenID Connect's `address` claim. */
export interface PostalAddress {
  formatted?: string;
  street_address?: string;
  postal_code?: string;
  locality?: string;
  region?: string;
  country?: string;
}

/** What some eIDs know beyond the person's identity, passed on as they give it. */
export interface EidDetails {
  Email?: string;
  PhoneNumber?: string;
  Address?: PostalAddress;
  /**
   * The IP address of the device the person identified with, as the eID saw it (the phone with
   * the BankID app, not the browser): for the audit trail only, never a claim.
   */
  DeviceIpAddress?: string;
}

/** One person as every eID reports them, whatever eID they used. */
export interface Identity extends EidDetails {
  CountryCode: CountryCode;
  FirstName: string;
  LastName: string;
  FullName: string;
  /** Canonical national identity number, when the eID gives one. */
  PersonalNumber?: string;
  /** YYYY-MM-DD. */
  DateOfBirth?: string;
  Age?: number;
  /** The eID's id, e.g. se-bankid. */
  IdProviderName: string;
  /** When the eID identified the person (ISO 8601). */
  IdentificationDate: string;
  /** The eID's own id for this transaction (BankID orderRef, upstream sid…). */
  IdProviderRequestId: string;
  /** The eID's own stable id for the person, when it has one. */
  IdProviderPersonId?: string;
}

/** What an eID plugin reports: the rest of the identity is derived by completeIdentity. */
export interface EidPerson extends EidDetails {
  FirstName?: string;
  LastName?: string;
  FullName?: string;
  PersonalNumber?: string;
  DateOfBirth?: string;
  IdProviderRequestId: string;
  IdProviderPersonId?: string;
  IdentificationDate?: string;
}

const eidDetailKeys = ['Email', 'PhoneNumber', 'Address', 'DeviceIpAddress'] as const satisfies ReadonlyArray<keyof EidDetails>;

/**
 * Fills in what can be derived (canonical number, date of birth, age, full name) so that
 * every eID yields the same model. A personal number that is not valid for the country is an
 * error: the eID told us something we must not pass on.
 */
export function completeIdentity(eid: { id: string; country: CountryRules }, person: EidPerson, now = new Date()): Identity {
  const rules = eid.country.personalNumbers;
  let personalNumber: string | undefined;
  if (person.PersonalNumber !== undefined) {
    personalNumber = rules.normalize(person.PersonalNumber);
    if (!personalNumber) throw new Error(`${eid.id} returned a personal number that is not valid for ${eid.country.code}`);
  }
  const dateOfBirth = person.DateOfBirth ?? (personalNumber ? rules.dateOfBirth(personalNumber) : undefined);
  const firstName = person.FirstName ?? '';
  const lastName = person.LastName ?? '';
  return {
    CountryCode: eid.country.code,
    FirstName: firstName,
    LastName: lastName,
    FullName: person.FullName ?? [firstName, lastName].filter(Boolean).join(' '),
    ...(personalNumber ? { PersonalNumber: personalNumber } : {}),
    ...(dateOfBirth ? { DateOfBirth: dateOfBirth, Age: ageOn(dateOfBirth, now) } : {}),
    IdProviderName: eid.id,
    IdentificationDate: person.IdentificationDate ?? now.toISOString(),
    IdProviderRequestId: person.IdProviderRequestId,
    ...(person.IdProviderPersonId ? { IdProviderPersonId: person.IdProviderPersonId } : {}),
    ...Object.fromEntries(eidDetailKeys.filter((key) => person[key] !== undefined).map((key) => [key, person[key]])),
  };
}
