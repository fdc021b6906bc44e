import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../../../test/support/broker.js';
import { RelyingParty } from '../../../test/support/relying-party.js';
import type { PollStatus } from '../../../src/eids/sdk.js';
import { createTestPki, type TestPki } from '../simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator, type SimulatorOptions } from '../simulator/server.js';

/** The simulator's PKI as files, the way an operator configures a real RP certificate. */
export function writePki(pki: TestPki) {
  const dir = mkdtempSync(join(tmpdir(), 'neb-bankid-'));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  return {
    dir,
    ca: file('server-ca.pem', pki.serverCa),
    cert: file('client.pem', pki.client.cert),
    key: file('client.key', pki.client.key),
  };
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
): Promise<BankIdTestBed> {
  const pki = await createTestPki();
  const simulator = await startBankIdSimulator({ pki, ...simulatorOptions });
  afterAll(() => simulator.close());
  const tb = await startTestBroker(
    { eids: { 'se-bankid': bankIdSection(simulator, pki, settings) } },
    name,
  );
  const rp = await RelyingParty.discover(tb.issuer, webClient);
  return { simulator, tb, rp };
}

/** What the frontend JSON API answers: a status (with BankID's own fields) with where to go next, or an error. */
export type ApiAnswer = Omit<PollStatus, 'outcome' | 'status' | 'payload'> & {
  status: PollStatus['status'] | undefined;
  qrCode?: { payload: string; svg: string };
  autoStartToken?: string;
  launchUrl?: string;
  redirectTo?: string;
  error?: string;
  error_description?: string;
};

/** A BankID login seen from a frontend: the interaction it runs in and its JSON API. */
export class BankIdSession {
  private constructor(
    readonly bed: BankIdTestBed,
    readonly uid: string,
  ) {}

  /** Starts an authorization at the broker and lands on the BankID page. */
  static async begin(bed: BankIdTestBed, params: Record<string, string> = {}): Promise<BankIdSession> {
    return BankIdSession.beginAt(bed, await bed.rp.authorizationUrl(params));
  }

  /** Follows an authorization URL (a pushed request's, say) to the BankID page. */
  static async beginAt(bed: BankIdTestBed, url: URL): Promise<BankIdSession> {
    const { response } = await bed.rp.browser.follow(url);
    const match = /\/interaction\/([^/]+)\/se-bankid\/$/.exec(new URL(response.url).pathname);
    if (!match) throw new Error(`expected the BankID page, got ${response.status} ${response.url}`);
    return new BankIdSession(bed, match[1]!);
  }

  async call(path: string, body: unknown = {}) {
    const response = await this.bed.rp.browser.request(`/interaction/${this.uid}/api/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', origin: this.bed.tb.issuer },
      body: JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as ApiAnswer };
  }

  async start(device?: 'this' | 'other') {
    return (await this.call('start', { eid: 'se-bankid', ...(device ? { device } : {}) })).body;
  }

  async poll(qr = true) {
    return (await this.call(`poll${qr ? '?qr=true' : ''}`)).body;
  }

  /** Polls until the status or hint changes from `from`, waiting out poll_frequency. */
  async pollUntil(done: (state: ApiAnswer) => boolean, attempts = 40) {
    for (let i = 0; i < attempts; i += 1) {
      const state = await this.poll();
      if (done(state)) return state;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error('the status never changed');
  }

  orderRef(): string {
    const order = this.bed.simulator.orders().at(-1);
    if (!order) throw new Error('no order at the simulator');
    return order.orderRef;
  }

  /** Follows a redirectTo back to the client; returns the client's callback URL. */
  async backToClient(redirectTo: string): Promise<URL> {
    const { leftTo } = await this.bed.rp.browser.follow(redirectTo);
    if (!leftTo) throw new Error('the login did not return to the client');
    return leftTo;
  }
}
