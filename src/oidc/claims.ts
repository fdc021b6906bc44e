import type { Identity } from '../identity/identity.js';
import { ageOn } from '../identity/calendar.js';

/** The ages a client can check without learning the birth date: `age_over_<n>` is true or false. */
export const AGE_THRESHOLDS = [13, 15, 16, 18, 20, 21, 65] as const;

const ageChecks = AGE_THRESHOLDS.map((years) => `age_over_${years}`);

/**
 * Which claims each scope releases. acr, amr and auth_time sit under openid so that every ID
 * token says how the person logged in, not only those whose client used the claims parameter.
 * Any of these claims can also be asked for alone through the claims parameter.
 */
export const claimsByScope: Record<string, readonly string[]> = {
  // authorization_details: in the ID token of a login that signed or approved something (RFC 9396).
  openid: ['sub', 'acr', 'amr', 'auth_time', 'authorization_details'],
  profile: ['name', 'given_name', 'family_name', 'birthdate', 'age'],
  age_verification: ageChecks,
  email: ['email'],
  phone: ['phone_number'],
  address: ['address'],
  personal_number: ['personal_number', 'country'],
  eid: ['idp', 'idp_person_id', 'idp_request_id', 'identification_date'],
};

function ageClaims(age: number | undefined): Record<string, number | boolean> {
  if (age === undefined) return {};
  return { age, ...Object.fromEntries(AGE_THRESHOLDS.map((years) => [`age_over_${years}`, age >= years])) };
}

/** The OIDC claims of an identity; oidc-provider releases the ones the granted scopes and requested claims allow. */
export function identityClaims(identity: Identity, now = new Date()): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    name: identity.FullName,
    given_name: identity.FirstName,
    family_name: identity.LastName,
    birthdate: identity.DateOfBirth,
    // Today's age, not the one at login: a refreshed token after a birthday says so.
    ...ageClaims(identity.DateOfBirth ? ageOn(identity.DateOfBirth, now) : identity.Age),
    email: identity.Email,
    phone_number: identity.PhoneNumber,
    address: identity.Address,
    personal_number: identity.PersonalNumber,
    country: identity.CountryCode,
    idp: identity.IdProviderName,
    idp_person_id: identity.IdProviderPersonId,
    idp_request_id: identity.IdProviderRequestId,
    identification_date: identity.IdentificationDate,
  };
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined && value !== ''));
}
