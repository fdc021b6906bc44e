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
    const rp = await RelyingParty.discover(direct.issuer, webClient);
    const authorization = await rp.authorizationUrl();
    const started = await send(direct, `${authorization.pathname}${authorization.search}`, evil);
    const interaction = String(started.headers.location);
    const cookies = (started.headers['set-cookie'] as string[]).map((cookie) => cookie.split(';')[0]).join('; ');
    const cancelled = await send(direct, `${interaction}/api/cancel`, { host: 'evil.example', cookie: cookies, 'content-type': 'application/json' }, 'POST', '{}');
    const { redirectTo } = JSON.parse(cancelled.body) as { redirectTo: string };
    expect(redirectTo.startsWith(`${direct.issuer}/auth/`)).toBe(true);
  });
});

describe('behind a trusted proxy', () => {
  it("builds URLs from the proxy's X-Forwarded-Host and -Proto", async () => {
    const { body } = await send(behindProxy, '/.well-known/openid-configuration', { 'x-forwarded-host': 'id.example.com', 'x-forwarded-proto': 'https' });
    expect(JSON.parse(body)).toMatchObject({ token_endpoint: 'https://id.example.com/token' });
  });

  it('takes the host and scheme its one proxy wrote, not those the sender wrote before it (a proxy that adds to the list)', async () => {
    // Apache's mod_proxy adds the Host it was sent to what the request's X-Forwarded-Host already said.
    const headers = { 'x-forwarded-host': 'evil.example, id.example.com', 'x-forwarded-proto': 'http, https', accept: 'text/html' };
    const discovery = await send(behindProxy, '/.well-known/openid-configuration', headers);
    expect(JSON.parse(discovery.body)).toMatchObject({ token_endpoint: 'https://id.example.com/token', end_session_endpoint: 'https://id.example.com/session/end' });
    const logout = await send(behindProxy, '/session/end', headers);
    expect(logout.body).toContain('action="https://id.example.com/session/end/confirm"');
    expect(logout.body).not.toContain('evil.example');
  });

  it.each([
    ['x-forwarded-host', 'a b'],
    ['x-forwarded-host', '[::1'],
    ['x-forwarded-host', '%zz'],
    ['x-forwarded-host', 'id.example.com:99999'],
    ['host', 'a b'],
    ['x-forwarded-proto', 'javascript'],
  ])('a forwarded %s of %j, on which no URL can be built, is a bad request, not a 500', async (name, value) => {
    for (const path of ['/.well-known/openid-configuration', '/session/end', '/auth?client_id=web-app']) {
      const { status, body } = await send(behindProxy, path, { 'x-forwarded-proto': 'https', [name]: value, accept: 'application/json' });
      expect(status, path).toBe(400);
      expect(JSON.parse(body), path).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/X-Forwarded-(Host|Proto)/) });
    }
  });

  it('an IPv6 address with a port, forwarded as the host, builds the URLs', async () => {
    const { body } = await send(behindProxy, '/.well-known/openid-configuration', { 'x-forwarded-host': '[::1]:8443', 'x-forwarded-proto': 'https' });
    expect(JSON.parse(body)).toMatchObject({ token_endpoint: 'https://[::1]:8443/token' });
  });
});
