import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../test/support/ops.js';
import { startTestBroker, webClient } from '../../../test/support/broker.js';
import { auditStream, capturingLog, eventually, Scrape } from '../../../test/support/ops.js';
import { logIn, RelyingParty } from '../../../test/support/relying-party.js';
import { createTestPki } from '../simulator/certificates.js';
import { simulatedPersons } from '../simulator/persons.js';
import { startBankIdSimulator } from '../simulator/server.js';
import { BankIdSession, bankIdSection, type BankIdTestBed } from './support.js';

const OTHER = 'urn:nordic-eid:se:bankid:other-device';
const THRESHOLD = 3;

let bed: BankIdTestBed;

/**
 * BankID beside the test double, with a circuit breaker quick enough for a test: it opens after
 * three failures and probes BankID every second while open (never while closed).
 */
beforeAll(async () => {
  const pki = await createTestPki();
  const simulator = await startBankIdSimulator({ pki });
  const tb = await startTestBroker(
    {
      eids: { 'se-bankid': bankIdSection(simulator, pki, { custom_identifier: 'shop-se' }), 'test-double': {} },
      circuit_breaker: { failure_threshold: THRESHOLD, half_open_after_seconds: 1, max_half_open_after_seconds: 1, probe_interval_seconds: 0 },
    },
    'bankid-operations',
  );
  bed = { simulator, tb, rp: await RelyingParty.discover(tb.issuer, webClient) };
  return () => simulator.close();
});

const scrape = () => Scrape.of(`${bed.tb.issuer}/metrics`);

async function eventsOf(loginId: string): Promise<AuditEvent[]> {
  await bed.tb.broker.audit.flush();
  return (await auditStream(bed.tb.prefix)).filter((event) => event.login_id === loginId);
}

describe('a BankID login, as operators see it', () => {
  it('events with the orderRef and custom_identifier, once each however often the browser polls; metrics of start and collect', async () => {
    const before = await scrape();
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    expect(await eventsOf(session.uid)).toEqual([]);
    await session.start();
    const orderRef = session.orderRef();
    bed.simulator.scanQr((await session.poll()).qrCode!.payload);
    bed.simulator.approve(orderRef, 0);
    const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
    // A browser that keeps polling after the end sees the same ending, and writes no new event.
    await session.poll();
    await session.poll();
    const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));

    const events = await eventsOf(session.uid);
    expect(events.map((event) => event.event_id)).toEqual(['EID_100001', 'EID_100002']);
    const common = { eid: 'se-bankid', custom_identifier: 'shop-se', transaction_id: orderRef, client_id: webClient.client_id, source_ip: '127.0.0.1' };
    expect(events[0]).toMatchObject({ ...common, event: 'authentication.started', acr: OTHER });
    expect(events[1]).toMatchObject({
      ...common,
      event: 'authentication.completed',
      sub: tokens.claims()!.sub,
      personal_number: `${simulatedPersons[0]!.personalNumber.slice(0, 8)}****`,
    });

    const after = await scrape();
    const start = { eid: 'se-bankid', operation: 'start' };
    const collect = { eid: 'se-bankid', operation: 'collect' };
    expect(after.value('neb_eid_request_successes_total', start)).toBe(before.value('neb_eid_request_successes_total', start) + 1);
    expect(after.value('neb_eid_request_duration_seconds_count', start)).toBe(before.value('neb_eid_request_duration_seconds_count', start) + 1);
    expect(after.value('neb_eid_request_successes_total', collect)).toBeGreaterThanOrEqual(before.value('neb_eid_request_successes_total', collect) + 2);
    expect(after.value('neb_eid_requests_in_flight', { eid: 'se-bankid' })).toBe(0);
  });

  it('cancelled in the app, or expired: EID_100004, with how it ended', async () => {
    for (const [act, ending] of [
      [(orderRef: string) => bed.simulator.userCancel(orderRef), 'cancelled'],
      [(orderRef: string) => bed.simulator.expire(orderRef), 'expired'],
    ] as const) {
      const session = await BankIdSession.begin(bed, { acr_values: OTHER });
      await session.start();
      const orderRef = session.orderRef();
      bed.simulator.scanQr((await session.poll()).qrCode!.payload);
      act(orderRef);
      await session.pollUntil((s) => s.status === 'CANCEL' || s.status === 'ERROR');
      // The person could try again; going back ends the login with how the order ended.
      await session.call('cancel');
      const events = await eventsOf(session.uid);
      expect(events.map((event) => event.event_id)).toEqual(['EID_100001', 'EID_100004']);
      expect(events[1]).toMatchObject({ event: 'authentication.cancelled', ending, transaction_id: orderRef, error: 'access_denied' });
    }
  });
});

describe('the circuit breaker around BankID', () => {
  it('opens after repeated failures; meanwhile BankID fails fast and shows as unavailable, and every other eID works', async () => {
    // Failures for the logins that open the circuit, then for the first probes while it is open.
    bed.simulator.injectFault('auth', { status: 500, errorCode: 'internalError' }, THRESHOLD + 5);
    for (let i = 0; i < THRESHOLD; i += 1) {
      const session = await BankIdSession.begin(bed, { acr_values: OTHER });
      expect(await session.start()).toMatchObject({ status: 'ERROR', messageCode: 'RFA5' });
    }
    expect(bed.tb.broker.registry.isAvailable('se-bankid')).toBe(false);

    // The login never reaches BankID's page: its start fails at once, back to the client.
    const failedFast = await bed.rp.authorize({ acr_values: OTHER });
    expect(failedFast.leftTo?.searchParams.get('error')).toBe('server_error');
    await bed.tb.broker.audit.flush();
    expect((await auditStream(bed.tb.prefix)).filter((event) => event.eid === 'se-bankid').slice(-2)).toMatchObject([
      { event_id: 'EID_100001' },
      { event_id: 'EID_100003', error: 'server_error', message: 'se-bankid is unavailable right now.' },
    ]);

    const status = await (await fetch(`${bed.tb.issuer}/api/status`)).json();
    expect(status).toMatchObject({ status: 'ISSUES', eids: { 'se-bankid': { available: false }, 'test-double': { available: true } } });
    const ready = await fetch(`${bed.tb.issuer}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ eids: { 'se-bankid': { available: false, circuit: expect.stringMatching(/^(open|half_open)$/) } } });
    const metrics = await scrape();
    expect(metrics.value('neb_eid_available', { eid: 'se-bankid' })).toBe(0);
    expect(metrics.value('neb_eid_circuit_openings_total', { eid: 'se-bankid' })).toBeGreaterThanOrEqual(1);
    expect(metrics.value('neb_eid_request_failures_total', { eid: 'se-bankid', operation: 'start', reason: 'internalError' })).toBe(THRESHOLD);

    const other = await RelyingParty.discover(bed.tb.issuer, webClient);
    expect((await logIn(other, { acr_values: 'urn:test:test-double' })).searchParams.get('code')).toBeTruthy();
  });

  it('closes again by itself once BankID answers its probes, and BankID takes logins again', async () => {
    await eventually(() => bed.tb.broker.registry.isAvailable('se-bankid'), 150);
    expect((await scrape()).value('neb_eid_circuit_state', { eid: 'se-bankid' })).toBe(0);
    expect(await (await fetch(`${bed.tb.issuer}/api/status`)).json()).toMatchObject({ status: 'OK' });
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    expect(await session.start()).toMatchObject({ status: 'IN_PROGRESS' });
  });
});

describe('an RP certificate that expires within 30 days', () => {
  it('is warned about in the log and in a metric, and listed by /health/ready', async () => {
    const pki = await createTestPki({ clientValidityMs: 10 * 24 * 3600 * 1000 });
    const simulator = await startBankIdSimulator({ pki });
    try {
      const captured = capturingLog();
      const tb = await startTestBroker({ eids: { 'se-bankid': bankIdSection(simulator, pki) } }, 'bankid-expiring', { log: captured.log });
      const warning = captured.lines().find((line) => line.level === 40 && line.certificate === 'client certificate');
      expect(warning).toMatchObject({ eid: 'se-bankid', days_left: expect.any(Number) });
      expect(warning!.days_left).toBeLessThanOrEqual(10);
      expect(String(warning!.msg)).toMatch(/expires in \d+ days/);
      const metrics = await Scrape.of(`${tb.issuer}/metrics`);
      expect(metrics.value('neb_eid_certificate_expires_soon', { eid: 'se-bankid', certificate: 'client certificate' })).toBe(1);
      expect(metrics.value('neb_eid_certificate_expiry_timestamp_seconds', { eid: 'se-bankid' })).toBeGreaterThan(Date.now() / 1000);
      const ready = (await (await fetch(`${tb.issuer}/health/ready`)).json()) as { warnings?: string[] };
      expect(ready.warnings).toEqual([expect.stringMatching(/^se-bankid: the client certificate expires on /)]);
    } finally {
      await simulator.close();
    }
  });
});
