import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestBroker } from '../../../test/support/broker.js';
import type { RelyingParty } from '../../../test/support/relying-party.js';
import type { PollStatus } from '../../../src/eids/sdk.js';

/**
 * Files an operator configures (a server CA, an RP certificate and key), written to a new
 * temporary folder: `contents` by file name, answered with each file's path by the same name.
 */
export function writeFiles<Name extends string>(prefix: string, contents: Record<Name, string>): Record<Name, string> & { dir: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const paths = Object.fromEntries(
    Object.entries<string>(contents).map(([name, content]) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return [name, path];
    }),
  ) as Record<Name, string>;
  return { ...paths, dir };
}

/** What the frontend JSON API answers: a status (with an app eID's own fields) with where to go next, or an error. */
export type ApiAnswer = Omit<PollStatus, 'outcome' | 'status' | 'payload'> & {
  status: PollStatus['status'] | undefined;
  qrCode?: { payload: string; svg: string };
  autoStartToken?: string;
  launchUrl?: string;
  redirectTo?: string;
  error?: string;
  error_description?: string;
};

/** A broker and a relying party logging in through it. */
export interface SessionBed {
  tb: TestBroker;
  rp: RelyingParty;
}

/**
 * A login through an eID used by its app (BankID, Freja eID), seen from a frontend: the
 * interaction it runs in, and the frontend JSON API its page drives.
 */
export class AppPageSession<Bed extends SessionBed> {
  constructor(
    readonly bed: Bed,
    readonly eid: string,
    readonly uid: string,
  ) {}

  /** Follows an authorization URL to the eID's page; answers the login's interaction uid. */
  static async pageUid(bed: SessionBed, eid: string, url: URL): Promise<string> {
    const { response } = await bed.rp.browser.follow(url);
    const match = new RegExp(`/interaction/([^/]+)/${eid}/$`).exec(new URL(response.url).pathname);
    if (!match) throw new Error(`expected the ${eid} page, got ${response.status} ${response.url}`);
    return match[1]!;
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
    return (await this.call('start', { eid: this.eid, ...(device ? { device } : {}) })).body;
  }

  async poll(qr = true) {
    return (await this.call(`poll${qr ? '?qr=true' : ''}`)).body;
  }

  /** Polls until `done` says so, waiting out the eID's poll_frequency. */
  async pollUntil(done: (state: ApiAnswer) => boolean, attempts = 40) {
    for (let i = 0; i < attempts; i += 1) {
      const state = await this.poll();
      if (done(state)) return state;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error('the status never changed');
  }

  /** Follows a redirectTo back to the client; returns the client's callback URL. */
  async backToClient(redirectTo: string): Promise<URL> {
    const { leftTo } = await this.bed.rp.browser.follow(redirectTo);
    if (!leftTo) throw new Error('the login did not return to the client');
    return leftTo;
  }
}
