import type { Page } from 'playwright-core';
import { afterAll } from 'vitest';
import { logInWithBankIdOnAnotherDevice } from '../../docs/examples/bankid-custom-frontend.mjs';
import { norwegianPersons, startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { simulatedPersons } from '../../providers/se-bankid/simulator/persons.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection } from '../../providers/se-bankid/test/support.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { ADMIN_TOKEN, createClient } from '../integration/admin-support.js';
import { TestBrowser } from './browser.js';
import type { TestBroker } from './broker.js';
import { startChildServer } from './process.js';
import { findFreePort } from './redis.js';
import { chooseAtUpstream, startUpstreamTestBed } from './upstream.js';

/**
 * The broker that independent relying parties log in to in the interop tests: Swedish BankID
 * (an eID the broker polls) and Norwegian BankID (an upstream OIDC eID), each on its simulator,
 * and the admin API, through which the tests register each relying party as an admin would.
 */

/** Debian's own interpreter: the first python3 on the PATH may be another build without Debian's packages. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

export interface InteropBed {
  tb: TestBroker;
  bankId: BankIdSimulator;
  /** Origins a browser must follow redirects to besides the broker's: the upstream's pages. */
  upstreamOrigins: string[];
}

export async function startInteropBed(name: string, more: Partial<ConfigInput> = {}): Promise<InteropBed> {
  const pki = await createTestPki();
  const bankId = await startBankIdSimulator({ pki });
  afterAll(() => bankId.close());
  const bed = await startUpstreamTestBed(
    name,
    [{ id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { nnin: true } }],
    undefined,
    { admin: { token: ADMIN_TOKEN }, ...more, eids: { 'se-bankid': bankIdSection(bankId, pki), ...more.eids } },
  );
  return { tb: bed.tb, bankId, upstreamOrigins: Object.values(bed.simulators).map((simulator) => new URL(simulator.issuer).origin) };
}

const norwegian = norwegianPersons[0]!.claims as { given_name: string; family_name: string; birthdate: string; nnin: string };

/** The eIDs every relying party logs in through, with who logs in and what the client must get. */
export const interopEids = [
  {
    eid: 'se-bankid',
    claims: {
      idp: 'se-bankid',
      acr: 'urn:nordic-eid:se:bankid:other-device',
      amr: ['mfa'],
      personal_number: simulatedPersons[0]!.personalNumber,
      // The profile scope's claims, which every relying party must find in the ID token and at userinfo.
      name: simulatedPersons[0]!.name,
      given_name: simulatedPersons[0]!.givenName,
      family_name: simulatedPersons[0]!.surname,
      birthdate: '1985-03-12',
    },
  },
  {
    eid: 'no-bankid',
    claims: {
      idp: 'no-bankid',
      acr: 'urn:nordic-eid:no:bankid',
      amr: ['bid'],
      personal_number: norwegian.nnin,
      // BankID's certificate name "Nordmann, Kari" is given in the order people write it.
      name: `${norwegian.given_name} ${norwegian.family_name}`,
      given_name: norwegian.given_name,
      family_name: norwegian.family_name,
      birthdate: norwegian.birthdate,
    },
  },
] as const;

/** What userinfo must answer for a login with `claims`: all but those about the login itself (acr, amr), which OpenID Connect puts in the ID token. */
export function userinfoClaims(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([name]) => name !== 'acr' && name !== 'amr'));
}

export type InteropEid = (typeof interopEids)[number]['eid'];

/** The interaction a page of the broker belongs to (/interaction/<uid>/…). */
function interactionUid(url: string): string {
  const match = /\/interaction\/([^/?#]+)/.exec(new URL(url).pathname);
  if (!match) throw new Error(`not a page of a login at the broker: ${url}`);
  return match[1]!;
}

/** The phone of the simulator's person `person` with the simulated BankID app: scans the first QR code shown, then approves. */
export function bankIdPhone(bankId: BankIdSimulator, person = 0) {
  let scanned = false;
  let approved = false;
  return (state: { qrCode?: { payload: string }; hintCode?: string }) => {
    if (state.qrCode && !scanned) {
      bankId.scanQr(state.qrCode.payload);
      scanned = true;
    }
    if (state.hintCode === 'userSign' && !approved) {
      bankId.approve(bankId.orders().at(-1)!.orderRef, person);
      approved = true;
    }
  };
}

/** A request to the broker's frontend JSON API, from wherever the person's browser is. */
type ApiRequest = (path: string, init: RequestInit) => Promise<Response>;

/**
 * Through the frontend JSON API, as a custom frontend would: picks `eid` for the login `uid`
 * and plays the person until the broker answers where the browser goes next.
 */
async function redirectToAfterEid(bed: InteropBed, eid: InteropEid, uid: string, request: ApiRequest): Promise<string> {
  if (eid === 'se-bankid') {
    const final = await logInWithBankIdOnAnotherDevice({
      uid,
      request,
      wait: (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 300))),
      onStatus: bankIdPhone(bed.bankId),
    });
    if (final.status !== 'COMPLETE' || !final.redirectTo) throw new Error(`the BankID login ended with ${JSON.stringify(final)}`);
    return final.redirectTo;
  }
  const started = await request(`/interaction/${uid}/api/start`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ eid }),
  });
  const { redirectTo } = (await started.json()) as { redirectTo?: string };
  if (!redirectTo) throw new Error(`${eid} did not start: ${started.status}`);
  return redirectTo;
}

/**
 * A browser for a relying party at `rpOrigin`: it follows redirects between the relying party,
 * the broker and the upstream eID's pages.
 */
export function browserFor(bed: InteropBed, rpOrigin: string): TestBrowser {
  const browser = new TestBrowser(bed.tb.issuer);
  for (const origin of [rpOrigin, ...bed.upstreamOrigins]) browser.alsoFollows.add(origin);
  return browser;
}

/**
 * The person logs in through `eid`, in `browser`, from `landing` (the broker's page the
 * relying party sent them to) to wherever the redirects end: the relying party's page, or a
 * URL outside the origins the browser follows.
 */
export async function logInThrough(bed: InteropBed, eid: InteropEid, browser: TestBrowser, landing: Response) {
  const uid = interactionUid(landing.url);
  const redirectTo = await redirectToAfterEid(bed, eid, uid, (path, init) => browser.request(path, init));
  const next = await browser.follow(redirectTo);
  if (eid === 'se-bankid') return next;
  return chooseAtUpstream(browser, next.response, { person: 0 });
}

/**
 * In chromium, whose `page` shows the broker's page the relying party sent it to: picks `eid`
 * and, for Swedish BankID, plays the person to the end; for the upstream eID, stops on its page.
 */
export async function chooseInChromium(bed: InteropBed, eid: InteropEid, page: Page): Promise<void> {
  const uid = interactionUid(page.url());
  // The API is called from the page itself, so that the login's cookies go along as they would.
  const request: ApiRequest = async (path, init) => {
    const answer = await page.evaluate(
      async ({ path, init }) => {
        const response = await fetch(path, init);
        return { status: response.status, headers: [...response.headers], body: await response.text() };
      },
      { path, init: { method: init.method ?? 'GET', headers: Object.fromEntries(new Headers(init.headers)), body: init.body as string | undefined } },
    );
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  };
  await page.goto(await redirectToAfterEid(bed, eid, uid, request));
}

/** In chromium, on the broker's page the relying party sent `page` to: picks Norwegian BankID, and there the person cancels. */
export async function cancelAtUpstreamInChromium(bed: InteropBed, page: Page): Promise<void> {
  await chooseInChromium(bed, 'no-bankid', page);
  await page.locator('form[action$="/cancel"] button').click();
}

/** The person logs in through `eid` in chromium, from the broker's page the relying party sent `page` to. */
export async function logInThroughInChromium(bed: InteropBed, eid: InteropEid, page: Page): Promise<void> {
  await chooseInChromium(bed, eid, page);
  if (eid === 'no-bankid') await page.locator('form[action$="/login"] button').first().click();
}

/** What an example relying party shows in its page's <pre id="result">, as JSON. */
export function pageResult(html: string): unknown {
  const pre = /<pre id="result">([\s\S]*?)<\/pre>/.exec(html)?.[1];
  if (pre === undefined) throw new Error(`no result on the page:\n${html}`);
  const named: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' };
  const text = pre.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return named[name] ?? entity;
  });
  return JSON.parse(text);
}

/** The same in chromium, on the logout page the relying party sent it to. */
export async function confirmLogoutInChromium(page: Page): Promise<void> {
  await page.locator('button[name="logout"][value="yes"]').click();
}

export interface ExampleUnderTest {
  clientId: string;
  command: string;
  args: string[];
  /** What it prints once it listens. */
  ready: string;
  /** Where RP-initiated logout returns, on the example's own address. */
  postLogoutPath: string;
  /** More of the client's registration (its authentication method and keys), and the example's environment for it. */
  authentication?: { registration: Record<string, unknown>; env: Record<string, string> };
}

/**
 * Registers a web client for one of docs/examples on a free loopback port, and runs the example
 * as its own process, configured through its environment as documented. Returns its address.
 */
export async function startExample(bed: InteropBed, example: ExampleUnderTest): Promise<string> {
  const port = await findFreePort();
  const appUrl = `http://127.0.0.1:${port}`;
  const client = await createClient(bed.tb.issuer, {
    client_id: example.clientId,
    redirect_uris: [`${appUrl}/callback`],
    post_logout_redirect_uris: [`${appUrl}${example.postLogoutPath}`],
    // A cancel at the eID then reaches the example as the OIDC error it must show, rather than
    // taking the person back to the picker to choose another eID.
    return_to_picker: false,
    ...example.authentication?.registration,
  });
  await startChildServer(example.command, example.args, {
    ready: example.ready,
    env: {
      ISSUER: bed.tb.issuer,
      CLIENT_ID: client.client_id,
      ...(client.client_secret ? { CLIENT_SECRET: client.client_secret } : {}),
      PORT: String(port),
      ...example.authentication?.env,
    },
  });
  return appUrl;
}

/** The person logs in at an example through `eid`, from its `loginPath`; returns the browser and what the example's home page shows. */
export async function logInAtExample(bed: InteropBed, eid: InteropEid, appUrl: string, loginPath = '/login') {
  const browser = browserFor(bed, appUrl);
  const { response: landing } = await browser.follow(`${appUrl}${loginPath}`);
  const { response: home } = await logInThrough(bed, eid, browser, landing);
  if (home.url !== `${appUrl}/`) throw new Error(`the login did not end at the example's home page: ${home.status} ${home.url}`);
  const shown = pageResult(await home.text()) as { id_token: Record<string, unknown>; userinfo: Record<string, unknown> };
  return { browser, shown };
}

/** The person cancels at Norwegian BankID after starting a login at an example; returns what the example then shows. */
export async function cancelAtExample(bed: InteropBed, appUrl: string): Promise<{ status: number; shown: unknown }> {
  const browser = browserFor(bed, appUrl);
  const { response: landing } = await browser.follow(`${appUrl}/login`);
  const redirectTo = await redirectToAfterEid(bed, 'no-bankid', interactionUid(landing.url), (path, init) => browser.request(path, init));
  const { response: upstream } = await browser.follow(redirectTo);
  const { response } = await chooseAtUpstream(browser, upstream, 'cancel');
  return { status: response.status, shown: pageResult(await response.text()) };
}
