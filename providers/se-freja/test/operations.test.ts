import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../test/support/ops.js';
import { ConfigError, projectRoot } from '../../../src/eids/sdk.js';
import { checkedSettings, settingsProblems } from '../../../test/support/eid-settings.js';
import { auditStream, capturingLog, Scrape } from '../../../test/support/ops.js';
import { startTestBroker, webClient } from '../../../test/support/broker.js';
import { RelyingParty } from '../../../test/support/relying-party.js';
import { checkFrejaSection } from '../config.js';
import { seFreja } from '../index.js';
import { simulatedPersons } from '../simulator/persons.js';
import { startFrejaSimulator } from '../simulator/server.js';
import { FrejaSession, frejaSection, type FrejaTestBed } from './support.js';

const OTHER = 'urn:nordic-eid:se:freja:other-device';

let bed: FrejaTestBed;
let logs: ReturnType<typeof capturingLog>;

beforeAll(async () => {
  const simulator = await startFrejaSimulator();
  logs = capturingLog();
  const tb = await startTestBroker({ eids: { 'se-freja': frejaSection(simulator, { custom_identifier: 'shop-se' }) } }, 'freja-operations', { log: logs.log });
  bed = { simulator, tb, rp: await RelyingParty.discover(tb.issuer, webClient) };
  return () => simulator.close();
});

async function eventsOf(loginId: string): Promise<AuditEvent[]> {
  await bed.tb.broker.audit.flush();
  return (await auditStream(bed.tb.prefix)).filter((event) => event.login_id === loginId);
}

async function approved(options: Parameters<FrejaTestBed['simulator']['approve']>[2] = {}) {
  const session = await FrejaSession.begin(bed, { acr_values: OTHER });
  const started = await session.start();
  bed.simulator.scan(started.qrCode!.payload);
  await session.pollUntil((s) => s.hintCode === 'DELIVERED_TO_MOBILE');
  bed.simulator.approve(session.authRef(), 0, options);
  return { session, final: await session.pollUntil((s) => s.status !== 'IN_PROGRESS') };
}

describe('a Freja eID login, as operators see it', () => {
  it('audit events with the authRef, the custom_identifier and a masked personal number; metrics of each call', async () => {
    const before = await Scrape.of(`${bed.tb.issuer}/metrics`);
    const { session, final } = await approved();
    const authRef = session.authRef();
    const tokens = await bed.rp.redeem(await session.backToClient(final.redirectTo!));
    const events = await eventsOf(session.uid);
    expect(events.map((event) => event.event_id)).toEqual(['EID_100001', 'EID_100002']);
    const common = { eid: 'se-freja', custom_identifier: 'shop-se', transaction_id: authRef, client_id: webClient.client_id };
    expect(events[0]).toMatchObject({ ...common, acr: OTHER });
    expect(events[1]).toMatchObject({ ...common, sub: tokens.claims()!.sub, personal_number: `${simulatedPersons[0]!.ssn.slice(0, 8)}****` });

    const after = await Scrape.of(`${bed.tb.issuer}/metrics`);
    for (const operation of ['start', 'result']) {
      const labels = { eid: 'se-freja', operation };
      expect(after.value('neb_eid_request_successes_total', labels)).toBeGreaterThan(before.value('neb_eid_request_successes_total', labels));
    }
    expect(logs.text()).not.toContain(simulatedPersons[0]!.ssn);
  });

  it('a spoilt signature is logged as a security warning, with why, and audited as a failed login', async () => {
    const { session, final } = await approved({ tampering: 'badSignature' });
    await session.backToClient(final.redirectTo!);
    expect(logs.lines()).toContainEqual(expect.objectContaining({ security: true, reason: 'signature', custom_identifier: 'shop-se' }));
    expect((await eventsOf(session.uid)).map((event) => event.event_id)).toEqual(['EID_100001', 'EID_100003']);
  });
});

describe('eids.se-freja', () => {
  it('has the documented defaults', () => {
    expect(checkFrejaSection({ client_certificate: { pfx: 'x.p12' }, jws_certificates: ['jws.pem'] })).toMatchObject({
      data: { mode: 'production', min_registration_level: 'EXTENDED', poll_frequency: 2, allowed_seconds: 130, timeout_ms: 10_000 },
    });
  });

  it.each([
    [{ jws_certificates: ['jws.pem'] }, 'eids.se-freja.client_certificate: is required unless mode is simulator'],
    [{ client_certificate: { pfx: 'x.p12' } }, 'eids.se-freja.jws_certificates: is required unless mode is simulator'],
    [{ mode: 'simulator', min_registration_level: 'BASIC' }, 'eids.se-freja.min_registration_level'],
    [{ mode: 'custom', client_certificate: { pfx: 'x.p12' }, jws_certificates: ['jws.pem'] }, 'eids.se-freja.custom_url: is required with mode custom'],
  ])('refuses %j, naming the key', async (raw, message) => {
    await expect(checkedSettings(seFreja, 'se-freja', raw)).rejects.toThrow(ConfigError);
    await expect(checkedSettings(seFreja, 'se-freja', raw)).rejects.toThrow(message);
  });

  it('names every file it cannot read, and a JWS certificate that is not one', async () => {
    const unreadable = { mode: 'test', client_certificate: { cert: '/nonexistent/c.pem', key: '/nonexistent/k.pem' }, jws_certificates: ['/nonexistent/jws.pem'] };
    expect(await settingsProblems(seFreja, 'se-freja', unreadable)).toEqual([
      'eids.se-freja.client_certificate.cert: cannot read /nonexistent/c.pem (ENOENT)',
      'eids.se-freja.client_certificate.key: cannot read /nonexistent/k.pem (ENOENT)',
      'eids.se-freja.jws_certificates[0]: cannot read /nonexistent/jws.pem (ENOENT)',
    ]);
    expect(await settingsProblems(seFreja, 'se-freja', { ...unreadable, jws_certificates: [join(projectRoot, 'package.json')] })).toEqual([
      'eids.se-freja.client_certificate.cert: cannot read /nonexistent/c.pem (ENOENT)',
      'eids.se-freja.client_certificate.key: cannot read /nonexistent/k.pem (ENOENT)',
      expect.stringMatching(/^eids\.se-freja\.jws_certificates: not a PEM certificate/),
    ]);
  });

  it("ships Freja's own root CAs, checked by their SHA-256 fingerprints", () => {
    const fingerprint = (name: string) => new X509Certificate(readFileSync(join(projectRoot, 'providers', 'se-freja', 'certs', name))).fingerprint256;
    expect(fingerprint('production-root.pem')).toBe('22:A2:83:A0:A5:0F:07:02:8A:C9:60:7D:47:7A:49:80:55:62:AE:50:C4:3D:19:02:F4:2B:C9:5C:1A:9A:58:25');
    expect(fingerprint('test-root.pem')).toBe('8D:74:59:FD:04:60:24:2C:F0:3E:76:D5:F0:42:7E:A9:FE:33:DB:67:89:D5:06:30:9A:AC:2C:97:DA:A6:E8:60');
  });
});
