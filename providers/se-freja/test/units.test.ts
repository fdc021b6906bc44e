import { describe, expect, it } from 'vitest';
import { decodeRequest, encodeRequest } from '../api/encoding.js';
import type { SignedResult } from '../api/types.js';
import { personOf } from '../identity.js';
import { apiErrorEnding, statusEnding } from '../outcomes.js';

const result = (attributes: SignedResult['requestedAttributes']): SignedResult => ({
  authRef: 'ref',
  status: 'APPROVED',
  userInfoType: 'INFERRED',
  userInfo: 'N/A',
  minRegistrationLevel: 'EXTENDED',
  timestamp: Date.UTC(2026, 10, 30, 2, 0),
  requestedAttributes: attributes,
});

describe('a verified result in the identity model', () => {
  it('takes the personal number, the name, the date of birth and Freja’s id of the person', () => {
    const person = personOf(
      result({ basicUserInfo: { name: 'Elin', surname: 'Sjöberg' }, ssn: { country: 'SE', ssn: '199003142388' }, dateOfBirth: '1990-03-14', relyingPartyUserId: 'AB12' }),
    );
    expect(person).toEqual({
      PersonalNumber: '199003142388',
      FirstName: 'Elin',
      LastName: 'Sjöberg',
      DateOfBirth: '1990-03-14',
      IdProviderPersonId: 'AB12',
      IdProviderRequestId: 'ref',
      IdentificationDate: '2026-11-30T02:00:00.000Z',
    });
  });

  it.each([
    ['a Norwegian number', { country: 'NO', ssn: '01017012345' }],
    ['a Swedish number with a wrong check digit', { country: 'SE', ssn: '199003142389' }],
    ['a 10-digit Swedish number', { country: 'SE', ssn: '9003142388' }],
  ])('gives no person for %s', (_case, ssn) => {
    expect(personOf(result({ ssn }))).toBeUndefined();
  });

  it('gives no person without a personal number at all', () => {
    expect(personOf(result({ basicUserInfo: { name: 'Tove', surname: 'Berg' } }))).toBeUndefined();
  });
});

describe("Freja's request encoding", () => {
  it('is <parameter>=<Base64 JSON>, read back only with that parameter', () => {
    const body = encodeRequest('getOneAuthResultRequest', { authRef: 'a+b/c' });
    expect(body).toBe(`getOneAuthResultRequest=${Buffer.from('{"authRef":"a+b/c"}').toString('base64')}`);
    expect(decodeRequest('getOneAuthResultRequest', body)).toEqual({ body: { authRef: 'a+b/c' } });
    expect(decodeRequest('cancelAuthRequest', body)).toBeUndefined();
  });
});

describe('endings', () => {
  it.each([
    ['CANCELED', 'access_denied', 'cancelled'],
    ['EXPIRED', 'access_denied', 'expired'],
    ['REJECTED', 'access_denied', undefined],
    ['RP_CANCELLED', 'server_error', undefined],
  ])('status %s ends with %s', (status, error, ending) => {
    const { error: given, ending: how } = statusEnding(status);
    expect({ error: given, ending: how }).toEqual({ error, ending });
  });

  it('an outage is server_error the person may retry; a refusal of the broker’s own request is server_error', () => {
    expect(apiErrorEnding('unreachable', 0)).toMatchObject({ error: 'server_error', messageCode: 'unavailable', retry: true });
    expect(apiErrorEnding('http502', 502)).toMatchObject({ messageCode: 'unavailable' });
    expect(apiErrorEnding('1001', 422)).toMatchObject({ error: 'server_error', messageCode: 'failed' });
    expect(apiErrorEnding('1001', 422).retry).toBeUndefined();
  });
});
