import { afterAll } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../../../test/support/broker.js';
import { RelyingParty } from '../../../test/support/relying-party.js';
import { AppPageSession, writeFiles } from '../../shared/test/app-page-session.js';
import { createTestPki, type TestPki } from '../simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator, type SimulatorOptions } from '../simulator/server.js';

/** The simulator's PKI as files, the way an operator configures a real RP certificate. */
export function writePki(pki: TestPki) {
  const files = writeFiles('neb-bankid-', { 'server-ca.pem': pki.serverCa, 'client.pem': pki.client.cert, 'client.key': pki.client.key });
  return { dir: files.dir, ca: files['server-ca.pem'], cert: files['client.pem'], key: files['client.key'] };
}

/** The `eids.se-bankid` section that reaches `simulator` in custom mode, through certificate files. */
export function bankIdSection(simulator: BankIdSimulator, pki: TestPki, settings: Record<string, unknown> = {}) {
  const files = writePki(pki);
  return {
    mode: 'custom',
    custom_url: simulator.apiUrl,
    ca: files.ca,
    client_certificate: { cert: files.cert, key: files.key },
    poll_frequency: 1,
    timeout_ms: 2_000,
    ...settings,
  };
}

export interface BankIdTestBed {
  simulator: BankIdSimulator;
  tb: TestBroker;
  rp: RelyingParty;
}

/**
 * A BankID simulator over real mutual TLS, and a broker on Redis whose se-bankid eID talks to
 * it in custom mode, through certificate files as in production.
 */
export async function startBankIdTestBed(
  name: string,
  settings: Record<string, unknown> = {},
  simulatorOptions: Partial<SimulatorOptions> = {},
  /** More configuration for the broker (its ttl, say). */
  broker: Parameters<typeof startTestBroker>[0] = {},
): Promise<BankIdTestBed> {
  const pki = await createTestPki();
  const simulator = await startBankIdSimulator({ pki, ...simulatorOptions });
  afterAll(() => simulator.close());
  const tb = await startTestBroker(
    { ...broker, eids: { 'se-bankid': bankIdSection(simulator, pki, settings) } },
    name,
  );
  const rp = await RelyingParty.discover(tb.issuer, webClient);
  return { simulator, tb, rp };
}

/** A BankID login seen from a frontend: the interaction it runs in and its JSON API. */
export class BankIdSession extends AppPageSession<BankIdTestBed> {
  /** Starts an authorization at the broker and lands on the BankID page. */
  static async begin(bed: BankIdTestBed, params: Record<string, string> = {}): Promise<BankIdSession> {
    return BankIdSession.beginAt(bed, await bed.rp.authorizationUrl(params));
  }

  /** Follows an authorization URL (a pushed request's, say) to the BankID page. */
  static async beginAt(bed: BankIdTestBed, url: URL): Promise<BankIdSession> {
    return new BankIdSession(bed, 'se-bankid', await AppPageSession.pageUid(bed, 'se-bankid', url));
  }

  orderRef(): string {
    const order = this.bed.simulator.orders().at(-1);
    if (!order) throw new Error('no order at the simulator');
    return order.orderRef;
  }
}
