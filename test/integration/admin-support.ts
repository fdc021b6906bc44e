import { expect } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

/** The admin token of the test brokers. */
export const ADMIN_TOKEN = 'a-test-admin-token-that-is-long-enough-0123456789';

export interface AdminAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** One admin API request, with the admin token unless `token` says otherwise (null: none). */
export async function admin(
  issuer: string,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = ADMIN_TOKEN,
): Promise<AdminAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${issuer}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A test broker with the admin API on, and registrations not rate limited (these tests register many clients). */
export function startAdminBroker(overrides: Partial<ConfigInput> = {}, name = 'admin'): Promise<TestBroker> {
  return startTestBroker({ admin: { token: ADMIN_TOKEN }, rate_limits: { registration: { per_ip: 0 } }, ...overrides }, name);
}

/** Creates a client through the admin API and returns what the API answered (with the secret, when it has one). */
export async function createClient(issuer: string, metadata: Record<string, unknown>): Promise<Record<string, unknown> & { client_id: string; client_secret?: string }> {
  const answer = await admin(issuer, 'POST', '/admin/clients', metadata);
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body as Record<string, unknown> & { client_id: string; client_secret?: string };
}

/** Logs in with a client as a relying party would, and redeems the code: the client works. */
export async function loginWorks(issuer: string, client: { client_id: string; client_secret?: string; redirect_uris: string[] }) {
  const rp = await RelyingParty.discover(issuer, client);
  const tokens = await rp.redeem(await logIn(rp));
  expect(tokens.claims()).toMatchObject({ aud: client.client_id, name: 'Tessa Testsson' });
  return tokens;
}
