import type { Identity } from '../identity/identity.js';

/**
 * Which claims each scope releases. acr, amr and auth_time sit under openid so that every ID
 * token says how the person logged in, not only those whose client used the claims parameter.
 */
export const claimsByScope = {
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: ['name', 'given_name', 'family_name', 'birthdate'],
  personal_number: ['personal_number', 'country'],
  eid: ['idp', 'idp_person_id', 'idp_request_id', 'identification_date'],
} as const;

/** The OIDC claims of an identity; oidc-provider releases the ones the granted scopes allow. */
export function identityClaims(identity: Identity): Record<string, string> {
  const claims: Record<string, string | undefined> = {
    name: identity.FullName,
    given_name: identity.FirstName,
    family_name: identity.LastName,
    birthdate: identity.DateOfBirth,
    personal_number: identity.PersonalNumber,
    country: identity.CountryCode,
    idp: identity.IdProviderName,
    idp_person_id: identity.IdProviderPersonId,
    idp_request_id: identity.IdProviderRequestId,
    identification_date: identity.IdentificationDate,
  };
  return Object.fromEntries(Object.entries(claims).filter((entry): entry is [string, string] => Boolean(entry[1])));
}
