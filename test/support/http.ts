import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { expect } from 'vitest';

/** A token-endpoint request as a client sends it: form body, client_secret_basic when there is a secret. */
export async function tokenRequest(
  issuer: string,
  client: { client_id: string; client_secret?: string },
  body: Record<string, string>,
  path = '/token',
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = new URLSearchParams(body);
  if (client.client_secret) {
    const encode = (s: string) => encodeURIComponent(s);
    headers.authorization = `Basic ${Buffer.from(`${encode(client.client_id)}:${encode(client.client_secret)}`).toString('base64')}`;
  } else {
    form.set('client_id', client.client_id);
  }
  const response = await fetch(`${issuer}${path}`, { method: 'POST', headers, body: form.toString() });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: response.headers };
}

/** A raw connection to a loopback port (from `localAddress`), and everything the server sent on it until it closed it. */
export async function rawConnection(port: number, localAddress = '127.0.0.1'): Promise<{ socket: Socket; closed: Promise<string> }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => received);
  await once(socket, 'connect');
  return { socket, closed };
}

/**
 * Whether the broker asks the person whose session `cookie` carries to confirm the logout that
 * `query` asks for: it asks only a session with a login, and ends one without asking.
 */
export async function asksToConfirmLogout(issuer: string, query: string, cookie: string): Promise<boolean> {
  const response = await fetch(`${issuer}/session/end?${query}`, { headers: { cookie, accept: 'text/html' } });
  return /<button[^>]*\bname="logout"/.test(await response.text());
}

/**
 * What a method an endpoint does not take (PATCH, which none of oidc-provider's takes) gets:
 * 405 with the methods the endpoint takes in Allow, in the shape of every error, and every method
 * Allow names is taken there. Returns the methods Allow names.
 */
export async function expectWrongMethodRefused(endpoint: string): Promise<string[]> {
  const refused = await fetch(endpoint, { method: 'PATCH', headers: { accept: 'application/json' } });
  expect(refused.status, endpoint).toBe(405);
  expect(await refused.json(), endpoint).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('Allow') });
  const allowed = refused.headers.get('allow')?.split(', ') ?? [];
  expect(allowed, endpoint).not.toEqual([]);
  for (const method of allowed) {
    // Without parameters most endpoints refuse the request, but not its method; OPTIONS is taken as a CORS preflight.
    const preflight = { origin: 'https://rp.example', 'access-control-request-method': 'POST' };
    const taken = await fetch(endpoint, { method, redirect: 'manual', headers: { accept: 'application/json', ...(method === 'OPTIONS' ? preflight : {}) } });
    expect([404, 405, 501], `${method} ${endpoint}`).not.toContain(taken.status);
  }
  return allowed;
}
