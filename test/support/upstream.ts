import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll } from 'vitest';
import type { ConfigInput } from '../../src/config/schema.js';
import type { SimulatorRegistration } from '../../providers/upstream-oidc/index.js';
import type { UpstreamSimulator } from '../../providers/upstream-oidc/simulator.js';
import type { TestBrowser } from './browser.js';
import { startTestBroker, webClient, type TestBroker } from './broker.js';
import { findFreePort } from './redis.js';
import { RelyingParty } from './relying-party.js';

/** A private JWKS (one signing and one encryption key) in a file, as an operator gives the broker its keys. */
export async function privateJwksFile(): Promise<{ path: string; publicJwks: { keys: JWK[] } }> {
  const key = async (alg: string, use: string) => {
    const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
    const jwk = await exportJWK(privateKey);
    return { ...jwk, alg, use, kid: await calculateJwkThumbprint(jwk) };
  };
  const keys = [await key('RS256', 'sig'), await key('RSA-OAEP-256', 'enc')];
  const path = join(mkdtempSync(join(tmpdir(), 'neb-upstream-')), 'jwks.json');
  writeFileSync(path, JSON.stringify({ keys }));
  const publicHalf = ({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest }: JWK) => rest;
  return { path, publicJwks: { keys: keys.map(publicHalf) } };
}

export interface UpstreamEidUnderTest {
  id: string;
  start(registration: SimulatorRegistration): Promise<UpstreamSimulator>;
  tokenEndpointAuthMethod: SimulatorRegistration['token_endpoint_auth_method'];
  settings?: Record<string, unknown>;
}

export interface UpstreamTestBed {
  tb: TestBroker;
  rp: RelyingParty;
  simulators: Record<string, UpstreamSimulator>;
  /** Stops an eID's simulator, as an outage would, and starts it again on the same address. */
  stopSimulator(id: string): Promise<void>;
  restartSimulator(id: string): Promise<void>;
}

/**
 * The simulator of one upstream eID with the broker at `brokerIssuer` registered as its client,
 * and the broker's configuration section (custom mode, with its own key file) that reaches it.
 */
export async function startSimulatedUpstream(
  eid: UpstreamEidUnderTest,
  brokerIssuer: string,
  registrationKeys?: (publicJwks: { keys: JWK[] }) => Promise<{ keys: JWK[] }>,
): Promise<{ simulator: UpstreamSimulator; section: Record<string, unknown>; restart(): Promise<UpstreamSimulator> }> {
  const keys = await privateJwksFile();
  const clientSecret = eid.tokenEndpointAuthMethod === 'private_key_jwt' ? undefined : `secret-of-${eid.id}-for-the-tests`;
  const registration: SimulatorRegistration = {
    client_id: `broker-${eid.id}`,
    ...(clientSecret ? { client_secret: clientSecret } : {}),
    redirect_uri: `${brokerIssuer}/eid/${eid.id}/callback`,
    jwks: registrationKeys ? await registrationKeys(keys.publicJwks) : keys.publicJwks,
    token_endpoint_auth_method: eid.tokenEndpointAuthMethod,
    port: 0,
  };
  const simulator = await eid.start(registration);
  const section = {
    mode: 'custom',
    issuer: simulator.issuer,
    client_id: `broker-${eid.id}`,
    ...(clientSecret ? { client_secret: clientSecret } : {}),
    private_jwks: keys.path,
    timeout: 1_500,
    ...eid.settings,
  };
  return { simulator, section, restart: () => eid.start({ ...registration, port: Number(new URL(simulator.issuer).port) }) };
}

/**
 * Simulated upstream eIDs, each with the broker registered as its client, and a broker on Redis
 * whose plugins reach them in custom mode with their own key files — as in production.
 * `registrationKeys` lets a test register other public keys than the broker holds.
 */
export async function startUpstreamTestBed(
  name: string,
  eids: UpstreamEidUnderTest[],
  registrationKeys?: (publicJwks: { keys: JWK[] }) => Promise<{ keys: JWK[] }>,
  /** More configuration for the broker; its `eids` are added to the upstream ones. */
  more: Partial<ConfigInput> = {},
  /** The broker's options beside its configuration (its logger). */
  brokerOptions: Parameters<typeof startTestBroker>[2] = {},
): Promise<UpstreamTestBed> {
  const port = await findFreePort();
  const issuer = `http://127.0.0.1:${port}`;
  const simulators: Record<string, UpstreamSimulator> = {};
  const restarts: Record<string, () => Promise<UpstreamSimulator>> = {};
  const sections: Record<string, unknown> = {};
  for (const eid of eids) {
    const upstream = await startSimulatedUpstream(eid, issuer, registrationKeys);
    afterAll(() => simulators[eid.id]!.close());
    simulators[eid.id] = upstream.simulator;
    restarts[eid.id] = upstream.restart;
    sections[eid.id] = upstream.section;
  }
  const tb = await startTestBroker({ ...more, issuer, port, eids: { ...sections, ...more.eids } }, name, brokerOptions);
  const rp = await RelyingParty.discover(tb.issuer, webClient);
  for (const simulator of Object.values(simulators)) rp.browser.alsoFollows.add(new URL(simulator.issuer).origin);
  return {
    tb,
    rp,
    simulators,
    stopSimulator: (id) => simulators[id]!.close(),
    async restartSimulator(id) {
      simulators[id] = await restarts[id]!();
    },
  };
}

/**
 * The person at the simulated upstream, in `browser`: picks test person `person` on its page,
 * or cancels, and follows the redirects from there (see TestBrowser.follow).
 */
export async function chooseAtUpstream(browser: TestBrowser, page: Response, choice: { person: number } | 'cancel') {
  const html = await page.text();
  const forms = [...html.matchAll(/<form method="post" action="([^"]+)">/g)].map((match) => match[1]!);
  const action = choice === 'cancel' ? forms.find((f) => f.endsWith('/cancel')) : forms.filter((f) => f.endsWith('/login'))[choice.person];
  if (!action) throw new Error(`no such choice on the upstream's page:\n${html}`);
  const fields: Record<string, string> = {};
  if (choice !== 'cancel') fields.person = [...html.matchAll(/name="person" value="([^"]+)"/g)][choice.person]![1]!;
  return browser.submit(new URL(action, page.url), fields);
}

/** chooseAtUpstream for `rp`'s browser; returns where the browser ended up back at the client. */
export async function actAtUpstream(rp: Pick<RelyingParty, 'browser' | 'issuer'>, page: Response, choice: { person: number } | 'cancel'): Promise<URL> {
  const { leftTo, response } = await chooseAtUpstream(rp.browser, page, choice);
  if (!leftTo) throw new Error(`the login did not return to the client (broker ${rp.issuer}): ${response.status} ${response.url}\n${await response.text()}`);
  return leftTo;
}
