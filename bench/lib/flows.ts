import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { Browser, send, type Answer } from './http.js';

/**
 * A login as a relying party and a person's browser run it, over real HTTP: authorize →
 * the interaction (the broker's BankID, or bare oidc-provider's instant login) → code →
 * token → userinfo. The load generators and the scenarios' set-up share these steps.
 */

export interface Client {
  client_id: string;
  client_secret: string;
  redirect_uri: string;
}

/** Where the login runs, and how its person gets through the interaction. */
export interface Target {
  /** bare-bankid: bare oidc-provider whose interaction does a minimal BankID integration's work (targets/bare-interactions.ts). */
  kind: 'broker' | 'bare' | 'bare-bankid';
  issuer: string;
  client: Client;
  /**
   * A login through BankID (the broker, bare-bankid): the simulator's bench endpoint that scans
   * a QR code and approves at once. Both serve the page's start and poll at the same paths.
   */
  approveUrl?: string;
}

/** The acr value that sends a broker login straight to BankID on another device (QR code). */
export const BANKID_QR_ACR = 'urn:nordic-eid:se:bankid:other-device';

/** What a relying party asks for: the broker's claims by scope (bare oidc-provider is set up with the same). */
export const LOGIN_SCOPE = 'openid profile personal_number eid';

export interface BankIdAnswer {
  status?: string;
  hintCode?: string;
  /** The broker's has its image too (svg); bare-bankid's page would draw it from the payload. */
  qrCode?: { payload: string; svg?: string };
  redirectTo?: string;
  error?: string;
}

export interface Tokens {
  access_token: string;
  id_token: string;
  refresh_token?: string;
}

function base64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** An authorization request as a relying party builds it (PKCE S256, state, nonce): its URL and what the client keeps. */
export function authorizationRequest(target: Target, scope: string, extra: Record<string, string>) {
  const verifier = base64url(randomBytes(32));
  const url = new URL('/auth', target.issuer);
  const params = {
    client_id: target.client.client_id,
    redirect_uri: target.client.redirect_uri,
    response_type: 'code',
    scope,
    state: base64url(randomBytes(12)),
    nonce: base64url(randomBytes(12)),
    code_challenge: base64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    ...(target.kind === 'broker' ? { acr_values: BANKID_QR_ACR } : {}),
    ...extra,
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return { url, verifier, state: params.state };
}

function json<T>(answer: Answer, what: string): T {
  if (answer.status !== 200) throw new Error(`${what} answered ${answer.status}: ${answer.text.slice(0, 200)}`);
  return JSON.parse(answer.text) as T;
}

/**
 * Where /auth lands a login through BankID: the broker's eID page; bare-bankid's page is its
 * interaction's own address, as oidc-provider gives the interaction cookie that path.
 */
const BANKID_PAGE: Partial<Record<Target['kind'], RegExp>> = {
  broker: /^\/interaction\/([^/]+)\/se-bankid\/$/,
  'bare-bankid': /^\/interaction\/([^/]+)$/,
};

/** Starts a login through BankID and lands on its BankID page; returns the interaction's uid. */
export async function openBankIdPage(browser: Browser, target: Target, scope = LOGIN_SCOPE, extra: Record<string, string> = {}) {
  const { url, verifier, state } = authorizationRequest(target, scope, extra);
  const landed = await browser.follow(url.href);
  const uid = BANKID_PAGE[target.kind]?.exec(landed.url.pathname)?.[1];
  if (!uid || landed.answer.status !== 200) throw new Error(`expected the BankID page, got ${landed.answer.status} ${landed.url.href}`);
  return { uid, verifier, state };
}

/** The page's script starting BankID on another device: the first status, with a QR code. */
export async function startBankId(browser: Browser, uid: string): Promise<BankIdAnswer> {
  return json(await browser.postJson(`/interaction/${uid}/api/start`, { eid: 'se-bankid', device: 'other' }), 'api/start');
}

const pollPath = (uid: string) => `/interaction/${uid}/api/poll?qr=true`;

/** One poll of the page's script, asking for the QR code. */
export function pollBankId(browser: Browser, uid: string): Promise<Answer> {
  return browser.postJson(pollPath(uid));
}

/** The same poll's request bytes, for a page polling on a connection of its own (lib/raw-http.ts). */
export function pollRequest(browser: Browser, uid: string): Buffer {
  return browser.jsonPostBytes(pollPath(uid));
}

/** The person's phone: scans the QR code and approves at once (the simulator's bench endpoint). */
export async function approve(dispatcher: Dispatcher, target: Target, qr: string): Promise<void> {
  const answer = await send(dispatcher, target.approveUrl!, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ qr }),
  });
  if (answer.status !== 200) throw new Error(`the simulator did not approve: ${answer.status} ${answer.text}`);
}

/** Polls until the login ends (a collect runs at the first poll after the start), bounded. */
async function pollUntilDone(browser: Browser, uid: string): Promise<BankIdAnswer> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const answer = await pollBankId(browser, uid);
    if (answer.status !== 429) {
      const state = json<BankIdAnswer>(answer, 'api/poll');
      if (state.redirectTo) return state;
    }
    await sleep(100);
  }
  throw new Error('the BankID login did not end');
}

/**
 * Runs the authorization through the target's interaction to the client's redirect_uri and
 * returns the code. Through BankID (the broker, bare-bankid): the BankID page, start, the phone
 * approves, a poll says COMPLETE, back to /auth. On bare oidc-provider: its interaction logs in at once.
 */
export async function authorize(browser: Browser, dispatcher: Dispatcher, target: Target, scope = LOGIN_SCOPE, extra: Record<string, string> = {}) {
  let verifier: string;
  let expectedState: string;
  let callback: URL | undefined;
  if (target.approveUrl) {
    const page = await openBankIdPage(browser, target, scope, extra);
    ({ verifier, state: expectedState } = page);
    const started = await startBankId(browser, page.uid);
    if (!started.qrCode) throw new Error(`api/start showed no QR code: ${JSON.stringify(started)}`);
    await approve(dispatcher, target, started.qrCode.payload);
    const done = await pollUntilDone(browser, page.uid);
    if (done.status !== 'COMPLETE') throw new Error(`the BankID login ended with ${done.status} ${done.hintCode ?? ''}`);
    callback = (await browser.follow(done.redirectTo!)).leftTo;
  } else {
    const request = authorizationRequest(target, scope, extra);
    ({ verifier, state: expectedState } = request);
    callback = (await browser.follow(request.url.href)).leftTo;
  }
  const code = callback?.searchParams.get('code');
  if (!callback || !code) throw new Error(`the login did not return a code: ${callback?.href ?? 'no redirect to the client'}`);
  if (callback.searchParams.get('state') !== expectedState) throw new Error('the state came back changed');
  return { code, verifier };
}

function basicAuth(client: Client): string {
  const encode = (value: string) => encodeURIComponent(value);
  return `Basic ${Buffer.from(`${encode(client.client_id)}:${encode(client.client_secret)}`).toString('base64')}`;
}

/** The token endpoint request a client sends: form body, client_secret_basic. */
export function tokenRequest(client: Client, form: Record<string, string>) {
  return {
    method: 'POST' as const,
    headers: { authorization: basicAuth(client), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  };
}

export async function redeem(dispatcher: Dispatcher, target: Target, code: string, verifier: string): Promise<Tokens> {
  const form = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: target.client.redirect_uri };
  return json(await send(dispatcher, `${target.issuer}/token`, tokenRequest(target.client, form)), 'token');
}

export async function userinfo(dispatcher: Dispatcher, target: Target, accessToken: string): Promise<{ sub: string }> {
  const claims = json<{ sub?: string }>(
    await send(dispatcher, `${target.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } }),
    'userinfo',
  );
  if (!claims.sub) throw new Error('userinfo has no sub');
  return { sub: claims.sub };
}

/** A whole login, as a new browser: authorize → eID → code → token → userinfo. */
export async function fullLogin(dispatcher: Dispatcher, target: Target, scope = LOGIN_SCOPE, extra: Record<string, string> = {}) {
  const browser = new Browser(target.issuer, dispatcher);
  const { code, verifier } = await authorize(browser, dispatcher, target, scope, extra);
  const tokens = await redeem(dispatcher, target, code, verifier);
  await userinfo(dispatcher, target, tokens.access_token);
  return tokens;
}
