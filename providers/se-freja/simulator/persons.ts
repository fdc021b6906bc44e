import { createHash } from 'node:crypto';
import type { RegistrationLevel } from '../api/types.js';

/** Someone with Freja eID on the simulated phone. */
export interface SimulatedPerson {
  name: string;
  surname: string;
  /** Swedish personal number, 12 digits, as Freja sends it. */
  ssn: string;
  dateOfBirth: string;
  registrationLevel: RegistrationLevel;
}

/**
 * Fictitious people with valid check digits: a Freja eID+ user (PLUS) first, an EXTENDED one, a
 * young adult, and a BASIC user (e-mail only), whom a login asking for EXTENDED cannot take.
 */
export const simulatedPersons: readonly SimulatedPerson[] = [
  { name: 'Elin', surname: 'Sjöberg', ssn: '199003142388', dateOfBirth: '1990-03-14', registrationLevel: 'PLUS' },
  { name: 'Mikael', surname: 'Nordin', ssn: '197811022388', dateOfBirth: '1978-11-02', registrationLevel: 'EXTENDED' },
  { name: 'Sara', surname: 'Ek', ssn: '200106272388', dateOfBirth: '2001-06-27', registrationLevel: 'EXTENDED' },
  { name: 'Tove', surname: 'Berg', ssn: '195509302385', dateOfBirth: '1955-09-30', registrationLevel: 'BASIC' },
];

/** Freja's id of a person for one relying party: stable, and different for every relying party. */
export function relyingPartyUserId(person: SimulatedPerson): string {
  return createHash('sha256').update(`simulated relying party ${person.ssn}`).digest('hex').toUpperCase();
}

/** A person by index into simulatedPersons or by personal number. */
export function findPerson(person: number | string | undefined): SimulatedPerson | undefined {
  if (person === undefined) return simulatedPersons[0];
  if (typeof person === 'number') return simulatedPersons[person];
  return simulatedPersons.find((candidate) => candidate.ssn === person);
}
