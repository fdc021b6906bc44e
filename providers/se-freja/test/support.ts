import { afterAll } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../../../test/support/broker.js';
import { RelyingParty } from '../../../test/support/relying-party.js';
import { AppPageSession, writeFiles } from '../../shared/test/app-page-session.js';
import { startFrejaSimulator, type FrejaSimulator, type FrejaSimulatorOptions } from '../simulator/server.js';

/**
 * The `eids.se-freja` section that reaches `simulator` in custom mode, through files as an
 * operator configures the real Freja: the server CA, the RP certificate and key, the JWS
 * signing certificate.
 */
export function frejaSection(simulator: FrejaSimulator, settings: Record<string, unknown> = {}) {
  const { pki, signingCertificate } = simulator;
  const files = writeFiles('neb-freja-', { 'server-ca.pem': pki.serverCa, 'client.pem': pki.client.cert, 'client.key': pki.client.key, 'jws.pem': signingCertificate });
  return {
    mode: 'custom',
    custom_url: simulator.apiUrl,
    ca: files['server-ca.pem'],
    client_certificate: { cert: files['client.pem'], key: files['client.key'] },
    jws_certificates: [files['jws.pem']],
    poll_frequency: 1,
    timeout_ms: 2_000,
    ...settings,
  };
}

export interface FrejaTestBed {
  simulator: FrejaSimulator;
  tb: TestBroker;
  rp: RelyingParty;
}

/** A Freja simulator over real mutual TLS, and a broker on Redis whose se-freja talks to it in custom mode. */
export async function startFrejaTestBed(name: string, settings: Record<string, unknown> = {}, simulatorOptions: FrejaSimulatorOptions = {}): Promise<FrejaTestBed> {
  const simulator = await startFrejaSimulator(simulatorOptions);
  afterAll(() => simulator.close());
  const tb = await startTestBroker({ eids: { 'se-freja': frejaSection(simulator, settings) } }, name);
  const rp = await RelyingParty.discover(tb.issuer, webClient);
  return { simulator, tb, rp };
}

/** A Freja eID login seen from a frontend: its interaction and the JSON API. */
export class FrejaSession extends AppPageSession<FrejaTestBed> {
  /** Starts an authorization at the broker and lands on the Freja eID page. */
  static async begin(bed: FrejaTestBed, params: Record<string, string> = {}): Promise<FrejaSession> {
    return new FrejaSession(bed, 'se-freja', await AppPageSession.pageUid(bed, 'se-freja', await bed.rp.authorizationUrl(params)));
  }

  authRef(): string {
    const transaction = this.bed.simulator.transactions().at(-1);
    if (!transaction) throw new Error('no transaction at the simulator');
    return transaction.authRef;
  }
}
