import type { EidPerson } from '../../src/eids/sdk.js';
import { sweden } from '../countries/se.js';
import type { SignedResult } from './api/types.js';

/**
 * The person in a verified result, in the identity model: the Swedish personal number from the
 * SSN attribute, the name from BASIC_USER_INFO, Freja's id of the person for this relying party
 * as IdProviderPersonId, and the transaction's authRef as IdProviderRequestId. Undefined when the
 * person has no valid Swedish personal number (Freja also serves Norwegian, Danish and Finnish
 * numbers, which this Swedish eID does not pass on).
 */
export function personOf(result: SignedResult): EidPerson | undefined {
  const { basicUserInfo, ssn, dateOfBirth, relyingPartyUserId } = result.requestedAttributes;
  if (ssn?.country !== 'SE' || typeof ssn.ssn !== 'string' || !/^\d{12}$/.test(ssn.ssn) || !sweden.personalNumbers.normalize(ssn.ssn)) return undefined;
  return {
    PersonalNumber: ssn.ssn,
    ...(basicUserInfo ? { FirstName: basicUserInfo.name, LastName: basicUserInfo.surname } : {}),
    ...(typeof dateOfBirth === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(dateOfBirth) ? { DateOfBirth: dateOfBirth } : {}),
    ...(typeof relyingPartyUserId === 'string' && relyingPartyUserId ? { IdProviderPersonId: relyingPartyUserId } : {}),
    IdProviderRequestId: result.authRef,
    IdentificationDate: new Date(result.timestamp).toISOString(),
  };
}
