import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../../../test/support/broker.js';
import { RelyingParty } from '../../../test/support/relying-party.js';
import type { PollStatus } from '../../../src/eids/sdk.js';
import { startFrejaSimulator, type FrejaSimulator, type FrejaSimulatorOptions } from '../simulator/server.js';

/**
 * The `eids.se-freja` section that reaches `simulator` in custom mode, through files as an
 * operator configures the real Freja: the server CA, the RP certificate and key, the JWS
 * signing certificate.
 */
export function frejaSection(simulator: FrejaSimulator, settings: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'neb-freja-'));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  return {
    mode: 'custom',
    custom_url: simulator.apiUrl,
    ca: file('server-ca.pem', simulator.pki.serverCa),
    client_certificate: { cert: file('client.pem', simulator.pki.client.cert), key: file('client.key', simulator.pki.client.key) },
    jws_certificates: [file('jws.pem', simulator.signingCertificate)],
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

export type ApiAnswer = Omit<PollStatus, 'outcome' | 'status' | 'payload'> & {
  qrCode?: { payload: string; svg: string };
  launchUrl?: string;
  status: PollStatus['status'] | undefined;
  redirectTo?: string;
  error?: string;
  error_description?: string;
};

/** A Freja eID login seen from a frontend: its interaction and the JSON API. */
export class FrejaSession {
  private constructor(
    readonly bed: FrejaTestBed,
    readonly uid: string,
  ) {}

  /** Starts an authorization at the broker and lands on the Freja eID page. */
  static async begin(bed: FrejaTestBed, params: Record<string, string> = {}): Promise<FrejaSession> {
    const { response } = await bed.rp.authorize(params);
    const match = /\/interaction\/([^/]+)\/se-freja\/$/.exec(new URL(response.url).pathname);
    if (!match) throw new Error(`expected the Freja eID page, got ${response.status} ${response.url}`);
    return new FrejaSession(bed, match[1]!);
  }

  async call(path: string, body: unknown = {}) {
    const response = await this.bed.rp.browser.request(`/interaction/${this.uid}/api/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', origin: this.bed.tb.issuer },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as ApiAnswer };
  }

  async start(device?: 'this' | 'other') {
    return (await this.call('start', { eid: 'se-freja', ...(device ? { device } : {}) })).body;
  }

  async poll(qr = true) {
    return (await this.call(`poll${qr ? '?qr=true' : ''}`)).body;
  }

  async pollUntil(done: (state: ApiAnswer) => boolean, attempts = 40) {
    for (let i = 0; i < attempts; i += 1) {
      const state = await this.poll();
      if (done(state)) return state;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error('the status never changed');
  }

  authRef(): string {
    const transaction = this.bed.simulator.transactions().at(-1);
    if (!transaction) throw new Error('no transaction at the simulator');
    return transaction.authRef;
  }

  async backToClient(redirectTo: string): Promise<URL> {
    const { leftTo } = await this.bed.rp.browser.follow(redirectTo);
    if (!leftTo) throw new Error('the login did not return to the client');
    return leftTo;
  }
}
