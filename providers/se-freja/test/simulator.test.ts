import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUntrustedClientCertificate } from '../../shared/test-pki.js';
import { encodeRequest } from '../api/encoding.js';
import { RefusedResult, SigningCertificates } from '../api/jws.js';
import { methods, type FrejaMethod } from '../api/types.js';
import { relyingPartyUserId, simulatedPersons } from '../simulator/persons.js';
import { startFrejaSimulator, type FrejaSimulator } from '../simulator/server.js';

let simulator: FrejaSimulator;
let agent: Agent;

beforeAll(async () => {
  simulator = await startFrejaSimulator({ expirySeconds: 2 });
  const { pki } = simulator;
  agent = new Agent({ connect: { ca: pki.serverCa, cert: pki.client.cert, key: pki.client.key } });
});
afterAll(async () => {
  await agent.close();
  await simulator.close();
});

async function raw(path: string, body: string, method = 'POST', dispatcher = agent) {
  const response = await request(`${simulator.apiUrl}${path}`, { method, body: method === 'POST' ? body : null, dispatcher, headers: { 'content-type': 'application/json' } });
  const text = await response.body.text();
  return { status: response.statusCode, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

function call(method: FrejaMethod, body: object) {
  return raw(methods[method].path, encodeRequest(methods[method].parameter, body));
}

const inferred = {
  userInfoType: 'INFERRED',
  userInfo: 'N/A',
  minRegistrationLevel: 'EXTENDED',
  attributesToReturn: [{ attribute: 'BASIC_USER_INFO' }, { attribute: 'SSN' }, { attribute: 'RELYING_PARTY_USER_ID' }, { attribute: 'REGISTRATION_LEVEL' }],
};

async function started(): Promise<string> {
  const { status, body } = await call('start', inferred);
  expect(status).toBe(200);
  return body!.authRef as string;
}

describe('the simulated Freja RP API: transport', () => {
  it('takes only clients with a certificate from its RP CA', async () => {
    const anonymous = new Agent({ connect: { ca: simulator.pki.serverCa } });
    const untrusted = await createUntrustedClientCertificate();
    const stranger = new Agent({ connect: { ca: simulator.pki.serverCa, cert: untrusted.cert, key: untrusted.key } });
    try {
      await expect(raw(methods.start.path, encodeRequest('initAuthRequest', inferred), 'POST', anonymous)).rejects.toThrow();
      await expect(raw(methods.start.path, encodeRequest('initAuthRequest', inferred), 'POST', stranger)).rejects.toThrow();
    } finally {
      await Promise.all([anonymous.close(), stranger.close()]);
    }
  });

  it('answers only POST', async () => {
    expect((await raw(methods.result.path, '', 'GET')).status).toBe(405);
  });

  it.each([
    ['another parameter name', `getOneAuthResultRequest=${Buffer.from(JSON.stringify(inferred)).toString('base64')}`],
    ['a second parameter', `${encodeRequest('initAuthRequest', inferred)}&extra=1`],
    ['Base64 that is not', 'initAuthRequest=not*base64'],
    ['JSON that is not', `initAuthRequest=${Buffer.from('{"userInfoType":').toString('base64')}`],
    ['a plus read as a space', encodeRequest('initAuthRequest', { ...inferred, userInfo: 'N/A', pad: '>>>' }).replace(/\+/g, ' ')],
  ])('refuses %s with 400 and code 1010', async (_case, body) => {
    const answer = await raw(methods.start.path, body);
    expect(answer).toMatchObject({ status: 400, body: { code: 1010 } });
  });

  it('reads Base64 sent raw (with + and /) or URL-encoded alike', async () => {
    const body = encodeRequest('initAuthRequest', inferred);
    expect((await raw(methods.start.path, body)).status).toBe(200);
    const [name, value] = body.split(/=(.*)/s);
    expect((await raw(methods.start.path, `${name}=${encodeURIComponent(value!)}`)).status).toBe(200);
  });
});

describe('the simulated Freja RP API: the rules of initAuthentication', () => {
  it.each([
    [{ ...inferred, userInfo: '198507151239' }, 1002],
    [{ ...inferred, userInfoType: 'NAME' }, 1001],
    [{ ...inferred, minRegistrationLevel: 'HIGH' }, 1007],
    [{ ...inferred, attributesToReturn: [] }, 2002],
    [{ ...inferred, attributesToReturn: [{ attribute: 'SHOE_SIZE' }] }, 2002],
    [{ ...inferred, minRegistrationLevel: 'BASIC' }, 2002],
    [{ ...inferred, userConfirmationMethod: 'DEFAULT_AND_FACE', minRegistrationLevel: 'BASIC', attributesToReturn: [{ attribute: 'EMAIL_ADDRESS' }] }, 1007],
    [{ ...inferred, useDynamicQrCode: 'yes' }, 1000],
    [{ ...inferred, surprise: true }, 1000],
    [{ ...inferred, userInfoType: 'EMAIL', userInfo: 'astrid@example.com' }, 1004],
  ])('refuses %j with 422 and code %i', async (body, code) => {
    expect(await call('start', body)).toMatchObject({ status: 422, body: { code } });
  });

  it('refuses an unknown authRef with 1100, a bad includePrevious with 1200, and relyingPartyId from a non-integrator with 1011', async () => {
    expect(await call('result', { authRef: 'no-such-reference' })).toMatchObject({ status: 422, body: { code: 1100 } });
    expect(await call('results', { includePrevious: 'SOME' })).toMatchObject({ status: 422, body: { code: 1200 } });
    const answer = await raw(methods.start.path, encodeRequest('initAuthRequest', inferred, 'someone-else'));
    expect(answer).toMatchObject({ status: 422, body: { code: 1011 } });
  });
});

describe('the simulated Freja RP API: a transaction', () => {
  it('goes STARTED → DELIVERED_TO_MOBILE → APPROVED, with a result signed by the configured certificate', async () => {
    const authRef = await started();
    expect((await call('result', { authRef })).body).toEqual({ authRef, status: 'STARTED' });
    simulator.scan(`frejaeid://bindUserToTransaction?transactionReference=${encodeURIComponent(authRef)}`);
    expect((await call('result', { authRef })).body).toMatchObject({ status: 'DELIVERED_TO_MOBILE' });
    simulator.approve(authRef, 1);
    const { body } = await call('result', { authRef });
    expect(body).toMatchObject({ authRef, status: 'APPROVED' });
    const person = simulatedPersons[1]!;
    const verified = await new SigningCertificates([simulator.signingCertificate]).verify(body!.details as string, { authRef, minRegistrationLevel: 'EXTENDED' });
    expect(verified).toMatchObject({
      authRef,
      status: 'APPROVED',
      userInfoType: 'INFERRED',
      userInfo: 'N/A',
      minRegistrationLevel: 'EXTENDED',
      requestedAttributes: {
        basicUserInfo: { name: person.name, surname: person.surname },
        ssn: { country: 'SE', ssn: person.ssn },
        relyingPartyUserId: relyingPartyUserId(person),
        registrationLevel: 'EXTENDED',
      },
    });
    expect((await call('results', { includePrevious: 'ALL' })).body!.authenticationResults).toContainEqual(expect.objectContaining({ authRef, status: 'APPROVED' }));
  });

  it('a result is verified only against a configured certificate, for the transaction the broker started', async () => {
    const authRef = await started();
    simulator.scan(`frejaeid://bindUserToTransaction?transactionReference=${encodeURIComponent(authRef)}`);
    simulator.approve(authRef, 0);
    const details = (await call('result', { authRef })).body!.details as string;
    const other = await createUntrustedClientCertificate();
    await expect(new SigningCertificates([other.cert]).verify(details, { authRef, minRegistrationLevel: 'EXTENDED' })).rejects.toThrow(RefusedResult);
    await expect(new SigningCertificates([simulator.signingCertificate]).verify(details, { authRef: 'another', minRegistrationLevel: 'EXTENDED' })).rejects.toMatchObject({ reason: 'authRef' });
    await expect(new SigningCertificates([simulator.signingCertificate]).verify(details, { authRef, minRegistrationLevel: 'PLUS' })).rejects.toMatchObject({ reason: 'level' });
  });

  it('the app refuses a person below the level asked for, and a QR code that is not Freja’s', async () => {
    const authRef = await started();
    expect(() => simulator.scan(`https://example.com/?transactionReference=${authRef}`)).toThrow(/not a Freja eID QR code/);
    expect(() => simulator.approve(authRef, 0)).toThrow(/Scan the QR code/);
    simulator.open(authRef);
    expect(() => simulator.approve(authRef, 3)).toThrow(/level BASIC/);
  });

  it('cancel by the relying party: RP_CANCELED, and a second cancel is 1100', async () => {
    const authRef = await started();
    expect((await call('cancel', { authRef })).status).toBe(204);
    expect((await call('result', { authRef })).body).toMatchObject({ status: 'RP_CANCELED' });
    expect(await call('cancel', { authRef })).toMatchObject({ status: 422, body: { code: 1100 } });
  });

  it('declined in the app is CANCELED; nobody answering is EXPIRED after the expiry', async () => {
    const declined = await started();
    simulator.open(declined);
    simulator.decline(declined);
    expect((await call('result', { authRef: declined })).body).toMatchObject({ status: 'CANCELED' });
    const ignored = await started();
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await call('result', { authRef: ignored })).body).toMatchObject({ status: 'EXPIRED' });
    expect(() => simulator.open(ignored)).toThrow(/already ended/);
  });
});
