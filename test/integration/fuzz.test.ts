import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { RelyingParty } from '../support/relying-party.js';
import { rawConnection } from '../support/http.js';
import { findFreePort } from '../support/redis.js';
import { generator } from '../support/fuzz.js';

/**
 * A bounded fuzz of every route: a few thousand requests with malformed parameters, headers,
 * bodies and methods, drawn from a seeded generator (the same requests on every run; set
 * FUZZ_SEED for others). Every answer must come in time, carry a traceId, and never be a 500.
 */

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_129);
const AT_ONCE = 8;
/** An answer slower than this counts as a hang. */
const HANG_MS = 10_000;
const ADMIN_TOKEN = 'an-admin-token-for-the-fuzz-test-0123456789';

const methods = ['GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND'];

/** Values that have broken parsers elsewhere. */
const nasty = [
  '',
  ' ',
  'x'.repeat(8_000),
  '%zz',
  '%00',
  '%E0%A4%A',
  '../../../etc/passwd',
  '<script>alert(1)</script>',
  '"\'><img src=x>',
  '__proto__',
  'constructor',
  '{"a":',
  '[]',
  'null',
  '-1',
  '1e400',
  'NaN',
  '😀'.repeat(50),
  '\u202e\u0000',
  'https://evil.example/',
  '//evil.example/x',
  'javascript:alert(1)',
  'openid profile personal_number eid offline_access',
  'S256',
  'authorization_code',
  'refresh_token',
  'web-app',
  'https://rp.example/callback',
];

const parameterNames = [
  'client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'nonce', 'code', 'code_verifier', 'code_challenge',
  'code_challenge_method', 'grant_type', 'refresh_token', 'token', 'token_type_hint', 'request_uri', 'request', 'prompt',
  'acr_values', 'login_hint', 'ui_locales', 'id_token_hint', 'post_logout_redirect_uri', 'lang', 'eid', 'device', 'uid',
  'error', 'error_description', 'iss', 'person', 'fail', 'via', 'qr', '__proto__[x]', 'a[b][c]',
];

const contentTypes = [
  undefined,
  'application/x-www-form-urlencoded',
  'application/json',
  'application/json; charset=utf-16',
  'text/plain',
  'multipart/form-data',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/x-www-form-urlencoded; charset=nonsense',
  '*/*',
];

const authorizations = [
  undefined,
  `Bearer ${ADMIN_TOKEN}`,
  'Bearer ',
  'Bearer x.y.z',
  'Basic !!!',
  `Basic ${Buffer.from('web-app').toString('base64')}`,
  `Basic ${Buffer.from(`web-app:${webClient.client_secret}`).toString('base64')}`,
  `Basic ${Buffer.from('%zz:%zz').toString('base64')}`,
  'Negotiate abc',
  'x'.repeat(4_000),
];

/** A header carries bytes, not any text: what fetch would refuse is sent percent-encoded. */
function asHeaderValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/**
 * What an answer promises besides its status and traceId, as far as it breaks them: an error is
 * `{error, error_description}` JSON or a page; a page carries the CSP and nosniff; a 405 says in
 * Allow what the address takes.
 */
function brokenPromises(response: Response, body: string): string[] {
  const type = response.headers.get('content-type') ?? '';
  const broken: string[] = [];
  if (response.status === 405 && !response.headers.get('allow')) broken.push('405 without Allow');
  if (response.status >= 400 && body !== '' && !/^(application\/json|text\/html)/.test(type)) broken.push(`an error as ${type || 'no type'}`);
  if (response.status >= 400 && body !== '' && type.startsWith('application/json') && !isErrorJson(body)) broken.push('an error not in {error, error_description}');
  if (type.startsWith('text/html')) {
    const policy = response.headers.get('content-security-policy') ?? '';
    if (!policy.includes("script-src 'self'") || !policy.includes("frame-ancestors 'none'")) broken.push('a page without the CSP');
    if (response.headers.get('x-content-type-options') !== 'nosniff') broken.push('a page without nosniff');
  }
  return broken;
}

function isErrorJson(body: string): boolean {
  try {
    const { error, error_description: description } = JSON.parse(body) as Record<string, unknown>;
    return typeof error === 'string' && typeof description === 'string';
  } catch {
    return false;
  }
}

describe('fuzzing every route', () => {
  let tb: TestBroker;
  const paths: string[] = [];
  let cookie = '';

  beforeAll(async () => {
    tb = await startTestBroker(
      {
        admin: { token: ADMIN_TOKEN },
        registration: { enabled: true, management: true },
        demo: true,
        rate_limits: { enabled: false },
        eids: { 'test-double': {}, 'se-bankid': { mode: 'simulator' } },
      },
      'fuzz',
    );
    // A login in progress, so the interaction routes are reached with a real uid and its cookies too.
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const started = await rp.authorize({ acr_values: 'urn:test:test-double' });
    const uid = /\/interaction\/([^/?]+)/.exec(started.response.url)?.[1] ?? 'no-uid';
    cookie = (await rp.browser.request(started.response.url)).headers.get('set-cookie') ?? '';
    for (const id of [uid, 'unknown-uid', '%zz', '..', 'x'.repeat(300)]) {
      const base = `/interaction/${id}`;
      paths.push(base, `${base}/select`, `${base}/cancel`, `${base}/complete`, `${base}/test-double/decide`, `${base}/se-bankid`, `${base}/se-bankid/return`);
      for (const api of ['ui', 'device', 'contact', 'overrides', 'start', 'poll', 'cancel', 'events']) paths.push(`${base}/api/${api}`);
    }
    paths.push(
      '/', '/.well-known/openid-configuration', '/jwks', '/auth', '/auth/x', '/token', '/me', '/session/end', '/session/end/confirm',
      '/session/end/success', '/token/introspection', '/token/revocation', '/request', '/reg', '/reg/web-app', '/api/status',
      '/health/live', '/health/ready', '/metrics', '/admin/clients', '/admin/clients/web-app', '/admin/clients/nobody',
      '/admin/clients/web-app/rotate-secret', '/admin/initial-access-tokens', '/admin/initial-access-tokens/revoke',
      '/admin/openapi.json', '/demo', '/demo/login', '/demo/callback', '/static/app.css', '/static/../package.json',
      '/eid/test-double/callback', '/eid/se-bankid/callback', '/eid/nobody/callback', '/eid/no-bankid/jwks.json', '//evil.example/x',
      '/%2e%2e/%2e%2e/etc/passwd', '/nothing-here',
    );
  });
  afterAll(() => tb?.close());

  /** One generated request. */
  function draw(random: ReturnType<typeof generator>) {
    const method = random.pick(methods);
    // Joined as text, never resolved: `//evil.example/x` must stay a path of the broker's.
    const url = new URL(`${tb.issuer}${random.pick(paths)}`);
    const count = Math.floor(random.next() * 6);
    for (let i = 0; i < count; i += 1) url.searchParams.append(random.pick(parameterNames), random.pick(nasty));
    const headers: Record<string, string> = {};
    const contentType = random.pick(contentTypes);
    if (contentType) headers['content-type'] = contentType;
    const authorization = random.pick(authorizations);
    if (authorization) headers.authorization = authorization;
    if (random.next() < 0.5) headers.cookie = random.next() < 0.7 ? cookie.replace(/;.*$/s, '') : random.pick(nasty);
    if (random.next() < 0.3) headers.origin = random.pick(['null', tb.issuer, 'https://evil.example']);
    if (random.next() < 0.3) headers.accept = random.pick(['text/html', 'application/json', '*/*', 'image/png', 'text/event-stream']);
    if (random.next() < 0.2) headers['accept-language'] = random.pick(['sv', 'xx', '*', 'en;q=x', random.pick(nasty)]);
    if (random.next() < 0.1) headers['x-forwarded-for'] = random.pick(nasty);
    if (random.next() < 0.1) headers['content-encoding'] = random.pick(['gzip', 'identity', 'br, gzip', 'x']);
    let body: string | undefined;
    if (method !== 'GET' && method !== 'HEAD' && random.next() < 0.8) {
      const fields = Array.from({ length: 1 + Math.floor(random.next() * 5) }, (): [string, string] => [random.pick(parameterNames), random.pick(nasty)]);
      body = random.pick([
        new URLSearchParams(fields).toString(),
        JSON.stringify(Object.fromEntries(fields)),
        '{"eid": ',
        '['.repeat(5_000),
        JSON.stringify({ eid: 'test-double', device: random.pick(nasty), qr: random.pick([true, 'yes', null, {}]) }),
        `{"redirect_uris":["https://rp.example/callback"],"__proto__":{"resource_server":true,"eid":"test-double"}}`,
        random.pick(nasty),
        'a=1&'.repeat(2_000),
      ]);
    }
    return { method, url, headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, asHeaderValue(value)])), body };
  }

  it(`${REQUESTS} malformed requests: no 500, no hang, a traceId on every answer, each error in the shape promised`, async () => {
    const random = generator(SEED);
    const requests = Array.from({ length: REQUESTS }, () => draw(random));
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++]!;
        const label = `${request.method} ${request.url.pathname}${request.url.search.slice(0, 120)}`;
        try {
          const response = await fetch(request.url, {
            method: request.method,
            headers: request.headers,
            body: request.body,
            redirect: 'manual',
            signal: AbortSignal.timeout(HANG_MS),
          });
          // An event stream is open on purpose: its head is the answer.
          let body = '';
          if (response.headers.get('content-type')?.startsWith('text/event-stream')) await response.body?.cancel();
          else body = await response.text().catch(() => '');
          if (response.status >= 500 && response.status !== 501) failures.push(`${response.status} ${label}`);
          if (!/^[0-9a-f]{16}$/.test(response.headers.get('traceid') ?? '')) failures.push(`no traceId: ${response.status} ${label}`);
          for (const broken of brokenPromises(response, body)) failures.push(`${broken}: ${response.status} ${label}`);
        } catch (error) {
          const { name, message, cause } = error as Error & { cause?: Error };
          failures.push(`${name} ${message} ${cause?.message ?? ''}: ${label}`);
        }
      }
    };
    await Promise.all(Array.from({ length: AT_ONCE }, worker));
    expect(failures).toEqual([]);
  }, 300_000);
});

/** A request written byte for byte, as no HTTP client library would send it; what the broker answered, as text. */
async function rawRequest(issuer: string, head: string): Promise<string> {
  const { socket, closed } = await rawConnection(Number(new URL(issuer).port));
  socket.write(head);
  return closed;
}

/** The head of a raw answer, by header name (lower case), and its body. */
function parsed(answer: string): { status: number; headers: Record<string, string>; body: string } {
  const [head = '', body = ''] = answer.split(/\r\n\r\n(.*)/s);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

describe('requests an outside probe of the HTTP surface answered wrongly', () => {
  let tb: TestBroker;
  const basic = `Basic ${Buffer.from(`${webClient.client_id}:${webClient.client_secret}`).toString('base64')}`;

  beforeAll(async () => {
    tb = await startTestBroker({ registration: { enabled: true } }, 'probe-findings');
  });

  it.each(['/token', '/token/introspection', '/token/revocation', '/request', '/reg', '/me', '/backchannel'])(
    'a client preferring HTML at %s still gets its error as JSON',
    async (path) => {
      const response = await fetch(`${tb.issuer}${path}`, {
        method: 'POST',
        headers: { accept: 'text/html', authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=nonsense',
      });
      expect(response.status).toBeLessThan(500);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toEqual(expect.objectContaining({ error: expect.any(String), error_description: expect.any(String) }));
    },
  );

  it.each(['/token', '/token/introspection', '/token/revocation', '/request', '/reg', '/backchannel', '/session/end/confirm', '/interaction/no-such-login/api/start'])(
    'a compressed body at %s is refused as such (415), never read as a form of other parameters',
    async (path) => {
      for (const encoding of ['gzip', 'deflate, gzip', 'br']) {
        const response = await fetch(`${tb.issuer}${path}`, {
          method: 'POST',
          headers: { accept: 'application/json', authorization: basic, 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': encoding },
          body: gzipSync('grant_type=client_credentials&token=x&scope=openid'),
        });
        expect(response.status, encoding).toBe(415);
        expect(response.headers.get('traceid'), encoding).toMatch(/^[0-9a-f]{16}$/);
        expect(await response.json(), encoding).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('Content-Encoding') });
      }
    },
  );

  it('a body marked identity is read as it is', async () => {
    const response = await fetch(`${tb.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'identity' },
      body: 'grant_type=authorization_code&code=nothing&redirect_uri=https%3A%2F%2Frp.example%2Fcallback&code_verifier=' + 'a'.repeat(43),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('a client not registered for CIBA that prefers HTML is told unauthorized_client at the backchannel endpoint', async () => {
    const response = await fetch(`${tb.issuer}/backchannel`, {
      method: 'POST',
      headers: { accept: 'text/html', authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'scope=openid&login_hint=x',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('unauthorized_client');
  });

  it("the authorization endpoint's error is still a page for a browser", async () => {
    const response = await fetch(`${tb.issuer}/auth?client_id=nobody`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain(response.headers.get('traceid'));
  });

  it.each(['%', '%zz', '%E0%A4%A'])('a login cookie that does not decode (%s) gets the page for a login that is over, not a 500', async (value) => {
    for (const path of ['/interaction/no-such-login', '/interaction/no-such-login/api/ui']) {
      const response = await fetch(`${tb.issuer}${path}`, { headers: { accept: 'text/html', cookie: `neb_last_login=${value}` } });
      expect(response.status, path).toBe(400);
      expect(await response.text(), path).toContain('session_expired');
    }
  });

  it('a request target in absolute form naming another host builds no URL from that host', async () => {
    const { host } = new URL(tb.issuer);
    for (const path of ['/.well-known/openid-configuration', '/session/end']) {
      const answer = parsed(await rawRequest(tb.issuer, `GET http://evil.example${path} HTTP/1.1\r\nHost: ${host}\r\nAccept: text/html\r\nConnection: close\r\n\r\n`));
      expect(answer.status, path).toBe(200);
      expect(answer.body, path).not.toContain('evil.example');
    }
    const discovery = parsed(await rawRequest(tb.issuer, `GET http://evil.example/.well-known/openid-configuration?x=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    expect((JSON.parse(discovery.body) as { authorization_endpoint: string }).authorization_endpoint).toBe(`${tb.issuer}/auth`);
  });

  it.each(['/.well-known/openid-configuration', '/token', '/me', '/jwks', '/token/introspection', '/token/revocation', '/request'])(
    'OPTIONS at %s that is no CORS preflight gets the methods the address takes in Allow',
    async (path) => {
      for (const headers of [{}, { origin: 'https://rp.example' }] as Array<Record<string, string>>) {
        const response = await fetch(`${tb.issuer}${path}`, { method: 'OPTIONS', headers });
        expect(response.status).toBe(204);
        expect(response.headers.get('allow')).toContain('OPTIONS');
        expect(response.headers.get('traceid')).toMatch(/^[0-9a-f]{16}$/);
      }
      const preflight = await fetch(`${tb.issuer}${path}`, { method: 'OPTIONS', headers: { origin: 'https://rp.example', 'access-control-request-method': 'POST' } });
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://rp.example');
    },
  );

  it.each(['/health/live', '/health/ready', '/metrics', '/static/broker.css', '/static/lean-qr.mjs'])(
    'at %s a method the address does not take gets 405 with HEAD and GET in Allow, and HEAD is taken',
    async (path) => {
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const refused = await fetch(`${tb.issuer}${path}`, { method, headers: { accept: 'application/json' } });
        expect(refused.status, method).toBe(405);
        expect(refused.headers.get('allow'), method).toBe('HEAD, GET');
        expect(await refused.json(), method).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('Allow') });
      }
      expect((await fetch(`${tb.issuer}${path}`, { method: 'HEAD' })).status).toBe(200);
    },
  );

  it.each([
    ['malformed HTTP', 'POST /token HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
    ['CONNECT', 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', 501],
    ['an Expect other than 100-continue', 'POST /token HTTP/1.1\r\nHost: {host}\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n', 417],
  ])('%s, which never reaches the app, is answered as the app answers errors', async (_case, head, status) => {
    const answer = parsed(await rawRequest(tb.issuer, head.replace('{host}', new URL(tb.issuer).host)));
    expect(answer.status).toBe(status);
    expect(answer.headers.traceid).toMatch(/^[0-9a-f]{16}$/);
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(JSON.parse(answer.body)).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it('behind an https issuer every answer tells the browser to come back over https only (HSTS); behind an http one, none does', async () => {
    const port = await findFreePort();
    await startTestBroker({ issuer: `https://localhost:${port}`, port }, 'probe-hsts');
    const served = `http://127.0.0.1:${port}`;
    const answers = [
      await fetch(`${served}/jwks`),
      await fetch(`${served}/interaction/no-such-login`, { headers: { accept: 'text/html' } }),
      await fetch(`${served}/nothing-here`),
    ];
    for (const answer of answers) expect(answer.headers.get('strict-transport-security'), answer.url).toBe('max-age=31536000');
    const refused = parsed(await rawRequest(served, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n'));
    expect(refused.headers['strict-transport-security']).toBe('max-age=31536000');
    expect((await fetch(`${tb.issuer}/jwks`)).headers.get('strict-transport-security')).toBeNull();
  });
});
