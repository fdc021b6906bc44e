import { beforeAll, describe, expect, it } from 'vitest';
import { everythingStored, Scrape } from '../../../test/support/ops.js';
import { findFreePort } from '../../../test/support/redis.js';
import { relyingPartyUserId, simulatedPersons } from '../simulator/persons.js';
import type { Tampering } from '../simulator/transactions.js';
import { FrejaSession, startFrejaTestBed, type FrejaTestBed } from './support.js';

const ANY = 'urn:nordic-eid:se:freja';
const OTHER = 'urn:nordic-eid:se:freja:other-device';
const THIS = 'urn:nordic-eid:se:freja:same-device';

let bed: FrejaTestBed;

beforeAll(async () => {
  bed = await startFrejaTestBed('freja-login');
});

describe('a full OIDC login through simulated Freja eID, on Redis and mutual TLS', () => {
  it('on another device: QR code, scan, approve, and openid-client gets the documented claims', async () => {
    const session = await FrejaSession.begin(bed, { acr_values: OTHER, scope: 'openid profile personal_number eid' });
    const started = await session.start();
    expect(started).toMatchObject({ status: 'IN_PROGRESS', hintCode: 'STARTED', messageCode: 'scan' });
    const authRef = session.authRef();
    expect(started.qrCode!.payload).toBe(`frejaeid://bindUserToTransaction?transactionReference=${encodeURIComponent(authRef)}`);
    expect(started.qrCode!.svg).toContain('<svg');
    expect(started.launchUrl).toBeUndefined();

    bed.simulator.scan(started.qrCode!.payload);
    const inApp = await session.pollUntil((s) => s.hintCode === 'DELIVERED_TO_MOBILE');
    expect(inApp).toMatchObject({ status: 'IN_PROGRESS', messageCode: 'approve' });
    expect(inApp.qrCode).toBeUndefined();

    bed.simulator.approve(authRef, 0);
    const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
    const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
    const person = simulatedPersons[0]!;
    expect(tokens.claims()).toMatchObject({
      acr: OTHER,
      amr: ['mfa'],
      personal_number: person.ssn,
      country: 'SE',
      given_name: person.name,
      family_name: person.surname,
      birthdate: person.dateOfBirth,
      idp: 'se-freja',
      idp_request_id: authRef,
      idp_person_id: relyingPartyUserId(person),
    });
  });

  it('on this device: the launch link opens the app, which sends the person back with a nonce', async () => {
    const session = await FrejaSession.begin(bed, { acr_values: THIS, scope: 'openid profile personal_number' });
    const started = await session.start();
    expect(started).toMatchObject({ status: 'IN_PROGRESS', messageCode: 'open_app' });
    expect(started.qrCode).toBeUndefined();
    const launch = new URL(started.launchUrl!);
    const authRef = session.authRef();
    expect(launch.searchParams.get('transactionReference')).toBe(authRef);
    const back = new URL(launch.searchParams.get('originAppScheme')!);
    expect(back.origin + back.pathname).toBe(`${bed.tb.issuer}/interaction/${session.uid}/se-freja/return`);

    bed.simulator.open(authRef, back.href);
    await session.pollUntil((s) => s.hintCode === 'DELIVERED_TO_MOBILE');
    bed.simulator.approve(authRef, 1);
    expect((await bed.rp.browser.request(back.pathname + back.search)).status).toBe(200);
    const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
    const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
    expect(tokens.claims()).toMatchObject({ acr: THIS, personal_number: simulatedPersons[1]!.ssn });
  });

  it('asks for the device when the acr value does not fix it, and sends Freja an INFERRED request', async () => {
    const session = await FrejaSession.begin(bed, { acr_values: ANY });
    expect(await session.start()).toMatchObject({ status: 'NOT_STARTED', messageCode: 'choose' });
    expect(await session.start('other')).toMatchObject({ status: 'IN_PROGRESS', messageCode: 'scan' });
    const init = bed.simulator.lastRequest('start')!;
    expect(init.contentType).toBe('application/json');
    expect(init.raw).toMatch(/^initAuthRequest=[A-Za-z0-9+/]+=*$/);
    expect(init.body).toEqual({
      userInfoType: 'INFERRED',
      userInfo: 'N/A',
      minRegistrationLevel: 'EXTENDED',
      attributesToReturn: ['BASIC_USER_INFO', 'SSN', 'DATE_OF_BIRTH', 'RELYING_PARTY_USER_ID', 'REGISTRATION_LEVEL'].map((attribute) => ({ attribute })),
    });
  });
});

describe('how a login ends without a person', () => {
  async function scanned() {
    const session = await FrejaSession.begin(bed, { acr_values: OTHER });
    const started = await session.start();
    bed.simulator.scan(started.qrCode!.payload);
    await session.pollUntil((s) => s.hintCode === 'DELIVERED_TO_MOBILE');
    return { session, authRef: session.authRef() };
  }

  it('declined in the app: access_denied, after the person goes back from the offer to try again', async () => {
    const { session, authRef } = await scanned();
    bed.simulator.decline(authRef);
    const declined = await session.pollUntil((s) => s.status === 'CANCEL');
    expect(declined).toMatchObject({ messageCode: 'declined', retry: true });
    const cancelled = await session.call('cancel');
    const callback = await session.backToClient(cancelled.body.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('access_denied');
  });

  it('the person cancels on the broker page: the transaction is cancelled at Freja, and access_denied', async () => {
    const session = await FrejaSession.begin(bed, { acr_values: OTHER });
    await session.start();
    const authRef = session.authRef();
    const before = bed.simulator.callCount('cancel');
    const cancelled = await session.call('cancel');
    expect(bed.simulator.callCount('cancel')).toBe(before + 1);
    expect(bed.simulator.transactions().find((t) => t.authRef === authRef)?.status).toBe('RP_CANCELED');
    const callback = await session.backToClient(cancelled.body.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('access_denied');
  });

  it.each(tamperings())('a result whose JWS is spoilt (%s) is refused: server_error, never a login', async (tampering) => {
    const { session, authRef } = await scanned();
    bed.simulator.approve(authRef, 0, { tampering });
    const refused = await session.pollUntil((s) => s.status === 'ERROR');
    expect(refused).toMatchObject({ messageCode: 'failed' });
    expect(refused.retry).toBeUndefined();
    const callback = await session.backToClient(refused.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('server_error');
    expect(callback.searchParams.get('error_description')).toBe("Freja eID's signed result could not be verified.");
  });

  it('Freja rejecting the transaction: access_denied', async () => {
    const { session, authRef } = await scanned();
    bed.simulator.reject(authRef);
    expect(await session.pollUntil((s) => s.status === 'ERROR')).toMatchObject({ messageCode: 'rejected', hintCode: 'REJECTED' });
  });

  it('Freja failing a start (503): server_error at the client', async () => {
    const session = await FrejaSession.begin(bed, { acr_values: OTHER });
    bed.simulator.injectFault('start', { status: 503 });
    const failed = await session.start();
    expect(failed).toMatchObject({ status: 'ERROR', messageCode: 'unavailable' });
    const callback = await session.backToClient(failed.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('server_error');
    expect(callback.searchParams.get('error_description')).toBe('Freja eID is temporarily unavailable.');
  });

  it('Freja answering a start with 4 MiB: not read past its limit, counted as an answer that is not Freja\'s (not as unreachable), server_error at the client', async () => {
    const failures = async (reason: string) => (await Scrape.of(`${bed.tb.issuer}/metrics`)).value('neb_eid_request_failures_total', { eid: 'se-freja', operation: 'start', reason });
    const [badBefore, unreachableBefore] = [await failures('badAnswer'), await failures('unreachable')];
    const session = await FrejaSession.begin(bed, { acr_values: OTHER });
    bed.simulator.injectFault('start', { paddingBytes: 4 * 1024 * 1024 });
    const failed = await session.start();
    expect(failed).toMatchObject({ status: 'ERROR', messageCode: 'failed' });
    expect(await failures('badAnswer')).toBe(badBefore + 1);
    expect(await failures('unreachable')).toBe(unreachableBefore);
    const callback = await session.backToClient(failed.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('server_error');
  });

  it('Freja away for a moment while the person is in the app: the login waits, and completes', async () => {
    const { session, authRef } = await scanned();
    bed.simulator.injectFault('result', { status: 502 }, 2);
    bed.simulator.approve(authRef, 0);
    expect(await session.pollUntil((s) => s.status !== 'IN_PROGRESS')).toMatchObject({ status: 'COMPLETE' });
  });

  it('keeps no personal number in clear in Redis', async () => {
    const { session, authRef } = await scanned();
    bed.simulator.approve(authRef, 2);
    await session.pollUntil((s) => s.status === 'COMPLETE');
    expect(await everythingStored(bed.tb.prefix)).not.toContain(simulatedPersons[2]!.ssn);
  });
});

describe('Freja eID down', () => {
  it('a broker whose Freja cannot be reached ends the login with server_error', async () => {
    const down = await startFrejaTestBed('freja-down', { custom_url: `https://127.0.0.1:${await findFreePort()}` });
    const session = await FrejaSession.begin(down, { acr_values: OTHER });
    const failed = await session.start();
    expect(failed).toMatchObject({ status: 'ERROR', messageCode: 'unavailable' });
    const callback = await session.backToClient(failed.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('server_error');
  });
});

function tamperings(): Tampering[] {
  return ['badSignature', 'unknownCertificate', 'algNone', 'wrongAuthRef', 'levelMismatch', 'stale'];
}
