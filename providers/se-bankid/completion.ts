import type { EidPerson } from '../../src/eids/sdk.js';
import type { Requirement, CompletionData } from './api/types.js';
import { brokerEndings } from './outcomes.js';

/**
 * Some banks send names in capitals only. Those are written the usual way (Karl-Johan Åström);
 * a name with any lower-case letter is kept exactly as sent.
 */
export function normalizeName(name: string): string {
  if (name !== name.toUpperCase()) return name;
  return name.toLowerCase().replace(/(^|[\s'-])(\p{L})/gu, (_whole, separator: string, letter: string) => separator + letter.toUpperCase());
}

/** The checks the broker makes on a completed order before it believes it. */
export function refusalOf(data: CompletionData, requirement: Requirement): keyof typeof brokerEndings | undefined {
  if (requirement.mrtd && data.stepUp?.mrtd !== true) return 'mrtdMissing';
  if (requirement.personalNumber && data.user.personalNumber !== requirement.personalNumber) return 'wrongPerson';
  if (data.risk === 'high') return 'highRisk';
  return undefined;
}

export function personOf(orderRef: string, data: CompletionData, completedAt: Date): EidPerson {
  return {
    FirstName: normalizeName(data.user.givenName),
    LastName: normalizeName(data.user.surname),
    FullName: normalizeName(data.user.name),
    PersonalNumber: data.user.personalNumber,
    IdProviderRequestId: orderRef,
    IdentificationDate: completedAt.toISOString(),
    DeviceIpAddress: data.device.ipAddress,
  };
}
