import { beforeAll, describe, expect, it } from 'vitest';
import { openSealed } from '../../../test/support/ops.js';
import type { BankIdSimulator } from '../simulator/server.js';
import { BankIdSession, startBankIdTestBed, type BankIdTestBed } from './support.js';

const OTHER = 'urn:nordic-eid:se:bankid:other-device';

let bed: BankIdTestBed;

beforeAll(async () => {
  bed = await startBankIdTestBed('bankid-outcomes', { allowed_polling_for_minutes: 0.1 }, { pickupTimeoutSeconds: 2 });
});

/** Starts an other-device login and has the app pick it up. */
async function pickedUp(test: BankIdTestBed = bed) {
  const session = await BankIdSession.begin(test, { acr_values: OTHER });
  const started = await session.start();
  test.simulator.scanQr(started.qrCode!.payload);
  await session.pollUntil((s) => s.hintCode === 'userSign' || s.hintCode === 'userMrtd');
  return session;
}

/**
 * Polls until the login ends; an ending the person may try again is left by going back (cancel),
 * which ends the login with it.
 */
async function endsAtClient(session: BankIdSession, attempts?: number) {
  const final = await session.pollUntil((s) => Boolean(s.redirectTo || s.retry), attempts);
  const redirectTo = final.redirectTo ?? (await session.call('cancel')).body.redirectTo!;
  return { final, callback: await session.backToClient(redirectTo) };
}

/** A status without its support reference, which is each answer's own traceId. */
const withoutReference = ({ reference: _reference, ...status }: Record<string, unknown>) => status;

describe('each failed hint code ends the login with its OIDC error', () => {
  it.each([
    ['userCancel', (s: BankIdSimulator, ref: string) => s.userCancel(ref), 'CANCEL', 'RFA6', 'access_denied', true],
    ['expiredTransaction', (s: BankIdSimulator, ref: string) => s.expire(ref), 'ERROR', 'RFA8', 'access_denied', true],
    ['cancelled', (s: BankIdSimulator, ref: string) => s.fail(ref, 'cancelled'), 'ERROR', 'RFA3', 'access_denied', true],
    ['certificateErr', (s: BankIdSimulator, ref: string) => s.fail(ref, 'certificateErr'), 'ERROR', 'RFA16', 'eid_doesnt_exist', false],
    ['transactionRiskBlocked', (s: BankIdSimulator, ref: string) => s.fail(ref, 'transactionRiskBlocked'), 'ERROR', 'RFA22', 'access_denied', false],
    ['notSupportedByUserApp', (s: BankIdSimulator, ref: string) => s.fail(ref, 'notSupportedByUserApp'), 'ERROR', 'RFA22', 'insufficient_scope', false],
    ['an unknown new code', (s: BankIdSimulator, ref: string) => s.fail(ref, 'somethingBrandNew'), 'ERROR', 'RFA22', 'server_error', false],
  ])('%s', async (_hint, act, status, messageCode, error, retry) => {
    const session = await pickedUp();
    act(bed.simulator, session.orderRef());
    const { final, callback } = await endsAtClient(session);
    expect(final).toMatchObject({ status, messageCode, reference: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(Boolean(final.retry)).toBe(retry);
    expect(Boolean(final.redirectTo)).toBe(!retry);
    expect(final.message).toEqual(expect.any(String));
    expect(callback.searchParams.get('error')).toBe(error);
    expect(callback.searchParams.get('error_description')).not.toMatch(/\d{12}/);
  });

  it('the final status is answered again to every later poll', async () => {
    const session = await pickedUp();
    bed.simulator.fail(session.orderRef(), 'certificateErr');
    const first = await session.pollUntil((s) => Boolean(s.redirectTo!));
    expect(withoutReference(await session.poll())).toEqual(withoutReference(first));
  });

  it('an ending the person may try again waits for them, and Try again completes the same login with a new order', async () => {
    const session = await pickedUp();
    const first = session.orderRef();
    bed.simulator.userCancel(first);
    const shown = await session.pollUntil((s) => Boolean(s.retry));
    expect(shown).toMatchObject({ status: 'CANCEL', messageCode: 'RFA6' });
    expect(shown.redirectTo).toBeUndefined();
    expect(withoutReference(await session.poll())).toEqual(withoutReference(shown));

    const again = await session.start();
    expect(again).toMatchObject({ status: 'IN_PROGRESS' });
    expect(session.orderRef()).not.toBe(first);
    bed.simulator.scanQr(again.qrCode!.payload);
    await session.pollUntil((s) => s.hintCode === 'userSign');
    bed.simulator.approve(session.orderRef(), 0);
    const { final, callback } = await endsAtClient(session);
    expect(final.status).toBe('COMPLETE');
    expect(callback.searchParams.get('code')).toBeTruthy();
  });
});

describe('every error code of the RP API', () => {
  it.each([
    [400, 'alreadyInProgress', 'RFA4', 'access_denied', 1],
    [400, 'invalidParameters', 'RFA22', 'server_error', 1],
    [400, 'aCodeBankIdAddsLater', 'RFA22', 'server_error', 1],
    [401, 'unauthorized', 'RFA22', 'server_error', 1],
    [403, 'unauthorized', 'RFA22', 'server_error', 1],
    [404, 'notFound', 'RFA22', 'server_error', 1],
    [405, 'methodNotAllowed', 'RFA22', 'server_error', 1],
    [408, 'requestTimeout', 'RFA5', 'server_error', 1],
    [415, 'unsupportedMediaType', 'RFA22', 'server_error', 1],
    [500, 'internalError', 'RFA5', 'server_error', 1],
    [503, 'maintenance', 'RFA5', 'server_error', 3],
  ])('%i %s → %s, %s, after %i call(s)', async (status, errorCode, messageCode, error, calls) => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    const before = bed.simulator.callCount('auth');
    bed.simulator.injectFault('auth', { status, errorCode, details: 'injected' }, calls);
    const started = await session.start();
    expect(started).toMatchObject({ status: 'ERROR', messageCode });
    expect(bed.simulator.callCount('auth') - before).toBe(calls);
    const callback = await session.backToClient(started.redirectTo!);
    expect(callback.searchParams.get('error')).toBe(error);
  });

  it('a maintenance answer is retried silently', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    bed.simulator.injectFault('auth', { status: 503, errorCode: 'maintenance' }, 1);
    expect(await session.start()).toMatchObject({ status: 'IN_PROGRESS' });
  });

  it('a collect BankID fails once does not end the login: the next collect asks again', async () => {
    const session = await pickedUp();
    bed.simulator.injectFault('collect', { status: 500, errorCode: 'internalError' });
    const failedCollects = bed.simulator.callCount('collect', session.orderRef());
    await session.pollUntil(() => bed.simulator.callCount('collect', session.orderRef()) > failedCollects + 1);
    expect(await session.poll()).toMatchObject({ status: 'IN_PROGRESS', hintCode: 'userSign' });
    bed.simulator.approve(session.orderRef(), 0);
    expect((await endsAtClient(session)).final.status).toBe('COMPLETE');
  });

  it('a BankID that keeps failing collects ends the login with server_error once its allowed time is spent', async () => {
    // A BankID of its own: every collect it is asked for fails.
    const failing = await startBankIdTestBed('bankid-collect-outage', { allowed_polling_for_minutes: 0.1 });
    const session = await pickedUp(failing);
    failing.simulator.injectFault('collect', { status: 500, errorCode: 'internalError' }, 1_000);
    const { final, callback } = await endsAtClient(session, 80);
    expect(final).toMatchObject({ status: 'ERROR', messageCode: 'RFA5', retry: true });
    expect(callback.searchParams.get('error')).toBe('server_error');
  });

  it('a BankID that does not answer in time ends the login with server_error', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    bed.simulator.injectFault('auth', { delayMs: 3_000 });
    const started = await session.start();
    expect(started).toMatchObject({ status: 'ERROR', messageCode: 'RFA5' });
    expect((await session.backToClient(started.redirectTo!)).searchParams.get('error')).toBe('server_error');
  });
});

describe('requirements checked on completion', () => {
  it('mrtd required but not done → insufficient_scope', async () => {
    const strict = await startBankIdTestBed('bankid-mrtd', { requirement: { mrtd: true } });
    const session = await pickedUp(strict);
    expect((await session.poll()).messageCode).toBe('RFA23');
    strict.simulator.approve(session.orderRef(), 0, { mrtd: false });
    const { callback } = await endsAtClient(session);
    expect(callback.searchParams.get('error')).toBe('insufficient_scope');
  });

  it('mrtd required and done → a login', async () => {
    const strict = await startBankIdTestBed('bankid-mrtd-ok', { requirement: { mrtd: true } });
    const session = await pickedUp(strict);
    strict.simulator.approve(session.orderRef(), 0, { mrtd: true });
    const { final } = await endsAtClient(session);
    expect(final.status).toBe('COMPLETE');
  });
});

describe('a QR code nobody scans', () => {
  it('fails with startFailed at BankID, and the broker silently starts a new order with a new QR code', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    const first = await session.start();
    const firstOrder = session.orderRef();
    const authCalls = bed.simulator.callCount('auth');
    await new Promise((resolve) => setTimeout(resolve, 2_300));
    const next = await session.pollUntil((s) => Boolean(s.qrCode) && s.qrCode!.payload.split('.')[1] !== first.qrCode!.payload.split('.')[1]);
    expect(next).toMatchObject({ status: 'IN_PROGRESS', messageCode: 'RFA1' });
    expect(bed.simulator.callCount('auth')).toBe(authCalls + 1);
    expect(session.orderRef()).not.toBe(firstOrder);

    bed.simulator.scanQr(next.qrCode!.payload);
    await session.pollUntil((s) => s.hintCode === 'userSign');
    bed.simulator.approve(session.orderRef(), 0);
    expect((await endsAtClient(session)).final.status).toBe('COMPLETE');
  });

  it('ends with access_denied once allowed_polling_for_minutes is spent', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    const { final, callback } = await endsAtClient(session, 80);
    expect(final).toMatchObject({ status: 'ERROR', messageCode: 'RFA17B', retry: true });
    expect(callback.searchParams.get('error')).toBe('access_denied');
  });
});

describe('audit evidence', () => {
  it('keeps the signature and OCSP response of a completed login in the store, with a TTL', async () => {
    const session = await pickedUp();
    const orderRef = session.orderRef();
    bed.simulator.approve(orderRef, 0);
    await endsAtClient(session);
    const stored = await bed.tb.broker.store.get(`se-bankid:evidence:${orderRef}`);
    // Encrypted at rest, under the key the broker generated and keeps in the store.
    expect(stored!.value).not.toContain(orderRef);
    expect(JSON.parse(await openSealed(bed.tb.broker.store, stored!.value))).toMatchObject({ orderRef, signature: expect.any(String), ocspResponse: expect.any(String) });
  });
});
