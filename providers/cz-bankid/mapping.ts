import { text, type EidFailure, type EidOutcome, type EidPerson, type PostalAddress } from '../../src/eids/sdk.js';
import { eidOutage, personCancelled, personEnded, type UpstreamErrorRow } from '../upstream-oidc/error-table.js';
import { parseBirthNumber } from './birth-number.js';

/** The acr a Bank iD login gets: Bank iD has one level (its loa3), so one value serves. */
export const ACR = 'urn:nordic-eid:cz:bankid';

const notAvailable = eidOutage('Bank iD or the bank is temporarily unavailable.');

/**
 * Bank iD's error callbacks → what the client gets, in the broker's words (Bank iD's
 * error_description is never passed on), and who the login ended by; they add to the codes
 * every upstream shares (login_required and its kin the broker's, as its requests always let
 * the bank ask the person). Codes in neither are the broker's request refused: server_error. The
 * person's side of each is in the README's Czech Bank iD section.
 */
export const bankIdErrors: Readonly<Record<string, UpstreamErrorRow>> = {
  access_denied: personCancelled('The person cancelled or did not give consent at their bank.'),
  eid_doesnt_exist: personEnded({ error: 'eid_doesnt_exist', description: 'Bank iD is not active for the person at the bank they chose.' }),
  user_not_eligible: personEnded({ error: 'insufficient_scope', description: 'The bank cannot offer Bank iD to the person (age, legal capacity or login method).' }),
  insufficient_scope: personEnded({ error: 'insufficient_scope', description: 'The bank lacks data about the person that the login needs.' }),
  server_error: eidOutage('Bank iD or the bank failed.'),
  temporarily_unavailable: notAvailable,
  basic_registers_unavailable: notAvailable,
};

/** A /profile answer that is not about the person the ID token names, or is no JSON object. */
export const foreignProfile: EidFailure = { error: 'server_error', description: "Bank iD's profile answer failed validation." };

/** The person has no Czech birth number (Bank iD has one for Czech nationals only). */
export const noBirthNumber: EidFailure = {
  error: 'insufficient_scope',
  description: 'Bank iD gave no Czech birth number for the person (it has one for Czech nationals only).',
};

const invalidBirthNumber: EidFailure = { error: 'server_error', description: 'The birth number Bank iD gave failed its check.' };

/**
 * The claims the bank checked against the state's registers win over the same claims outside
 * verified_claims.
 */
function verified(profile: Record<string, unknown>): Record<string, unknown> {
  const container = profile.verified_claims as { claims?: unknown } | undefined;
  const claims = container && typeof container.claims === 'object' && container.claims ? (container.claims as Record<string, unknown>) : {};
  return { ...profile, ...claims };
}

/** Permanent residence first; a Czech street address reads "Lipová 812/4" (building/street number). */
function addressOf(addresses: unknown): PostalAddress | undefined {
  if (!Array.isArray(addresses)) return undefined;
  const all = addresses.filter((entry): entry is Record<string, unknown> => Boolean(entry) && typeof entry === 'object');
  const chosen = all.find((entry) => entry.type === 'PERMANENT_RESIDENCE') ?? all[0];
  if (!chosen) return undefined;
  const number = [text(chosen.buildingapartment) ?? text(chosen.evidencenumber), text(chosen.streetnumber)].filter(Boolean).join('/');
  const street = [text(chosen.street) ?? text(chosen.cityarea), number].filter(Boolean).join(' ');
  const address: PostalAddress = {
    ...(street ? { street_address: street } : {}),
    ...(text(chosen.zipcode) ? { postal_code: text(chosen.zipcode) } : {}),
    ...(text(chosen.city) ? { locality: text(chosen.city) } : {}),
    ...(text(chosen.country) ? { country: text(chosen.country) } : {}),
  };
  return Object.keys(address).length ? address : undefined;
}

/**
 * The person from a validated ID token and Bank iD's /profile answer. The birth number is the
 * personal number and gives the date of birth (Bank iD's birthdate may be a year alone); Bank
 * iD's `sub`, pairwise per relying party, is the eID's id of the person.
 */
export function outcomeOf(idToken: Record<string, unknown>, profile: Record<string, unknown>): EidOutcome {
  if (profile.sub !== idToken.sub) return { failure: foreignProfile };
  if (idToken.acr !== undefined && idToken.acr !== 'loa3') {
    return { failure: { error: 'insufficient_scope', description: 'The Bank iD login was not at the level of assurance asked for (loa3).' } };
  }
  const claims = verified(profile);
  const written = text(claims.birthnumber);
  if (!written) return { failure: noBirthNumber };
  const birthNumber = parseBirthNumber(written);
  if (!birthNumber) return { failure: invalidBirthNumber };
  const person: EidPerson = {
    FirstName: [text(claims.given_name), text(claims.middle_name)].filter(Boolean).join(' ') || undefined,
    LastName: text(claims.family_name),
    PersonalNumber: birthNumber.canonical,
    DateOfBirth: birthNumber.dateOfBirth,
    IdProviderPersonId: text(idToken.sub),
    IdProviderRequestId: text(profile.txn) ?? text(idToken.jti) ?? String(idToken.iat),
    Address: addressOf(claims.addresses),
  };
  const amr = Array.isArray(idToken.amr) ? idToken.amr.map(String) : ['bankid'];
  return { person, acr: ACR, amr };
}
