import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { RelyingParty } from '../support/relying-party.js';

let direct: TestBroker;
let behindProxy: TestBroker;

beforeAll(async () => {
  direct = await startTestBroker({}, 'host-direct');
  behindProxy = await startTestBroker({ trust_proxy: 1 }, 'host-proxy');
});

/** A raw request, so that the Host header and the path go out exactly as written. */
function send(
  tb: TestBroker,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
  body = '',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { port } = new URL(tb.issuer);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Where a login started and cancelled with `headers` on each request is sent to resume (the API's redirectTo). */
async function resumeAddress(tb: TestBroker, headers: Record<string, string>): Promise<string> {
  const rp = await RelyingParty.discover(tb.issuer, webClient);
  const authorization = await rp.authorizationUrl();
  const started = await send(tb, `${authorization.pathname}${authorization.search}`, headers);
  const interaction = String(started.headers.location);
  const cookies = (started.headers['set-cookie'] as string[]).map((cookie) => cookie.split(';')[0]).join('; ');
  const cancelled = await send(tb, `${interaction}/api/cancel`, { ...headers, cookie: cookies, 'content-type': 'application/json' }, 'POST', '{}');
  return (JSON.parse(cancelled.body) as { redirectTo: string }).redirectTo;
}

describe('a request path that looks like another site', () => {
  it('GET //evil.example/x renders no link to //evil.example', async () => {
    const { status, body } = await send(direct, '//evil.example/x', { accept: 'text/html' });
    expect(status).toBe(404);
    expect(body).toContain('hreflang="sv"');
    expect(body).not.toContain('evil.example');
  });
});

describe('a foreign Host header, without trust_proxy', () => {
  const evil = { host: 'evil.example', accept: 'text/html' };

  it('discovery names only the issuer', async () => {
    const { body } = await send(direct, '/.well-known/openid-configuration', evil);
    expect(body).not.toContain('evil.example');
    expect(JSON.parse(body)).toMatchObject({ issuer: direct.issuer, token_endpoint: `${direct.issuer}/token`, end_session_endpoint: `${direct.issuer}/session/end` });
  });

  it('the logout form posts to the issuer', async () => {
    const { status, body } = await send(direct, '/session/end', evil);
    expect(status).toBe(200);
    expect(body).toContain(`action="${direct.issuer}/session/end/confirm"`);
    expect(body).not.toContain('evil.example');
  });

  it('a login started under a foreign Host resumes at the issuer (the API\'s redirectTo)', async () => {
    expect((await resumeAddress(direct, { host: 'evil.example' })).startsWith(`${direct.issuer}/auth/`)).toBe(true);
  });
});

describe('behind a trusted proxy', () => {
  // A proxy may pass on what the sender wrote (Apache's mod_proxy sets no X-Forwarded-Proto), and a
  // shared cache may keep the discovery document for everyone: no URL is built on either header.
  it('builds every URL from the issuer, whatever host and scheme the proxy forwards', async () => {
    const headers = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', host: 'evil.example', accept: 'text/html' };
    const discovery = await send(behindProxy, '/.well-known/openid-configuration', headers);
    expect(JSON.parse(discovery.body)).toMatchObject({ token_endpoint: `${behindProxy.issuer}/token`, end_session_endpoint: `${behindProxy.issuer}/session/end` });
    expect(discovery.body).not.toContain('evil.example');
    const logout = await send(behindProxy, '/session/end', headers);
    expect(logout.body).toContain(`action="${behindProxy.issuer}/session/end/confirm"`);
    expect(logout.body).not.toContain('evil.example');
  });

  it('a login started through the proxy under a foreign host resumes at the issuer (the API\'s redirectTo)', async () => {
    const forwarded = { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
    expect((await resumeAddress(behindProxy, forwarded)).startsWith(`${behindProxy.issuer}/auth/`)).toBe(true);
  });

  it.each([
    ['x-forwarded-host', 'a b'],
    ['x-forwarded-host', '[::1'],
    ['x-forwarded-host', '%zz'],
    ['x-forwarded-host', 'id.example.com:99999'],
    ['host', 'a b'],
    ['x-forwarded-proto', 'javascript'],
  ])('a forwarded %s of %j is not read: the answer names the issuer', async (name, value) => {
    const { status, body } = await send(behindProxy, '/.well-known/openid-configuration', { 'x-forwarded-proto': 'https', [name]: value, accept: 'application/json' });
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ token_endpoint: `${behindProxy.issuer}/token` });
  });
});
