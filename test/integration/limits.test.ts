import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { rawConnection } from '../support/http.js';
import { eventually } from '../support/ops.js';
import { clearOfWindowEnd, LONG_WINDOW } from '../support/rate-windows.js';
import { ADMIN_TOKEN, admin } from './admin-support.js';

let tb: TestBroker;
let limited: TestBroker;
let slow: TestBroker;
let capped: TestBroker;
let cappedPerAddress: TestBroker;

beforeAll(async () => {
  const adminAndRegistration = { admin: { token: ADMIN_TOKEN }, registration: { enabled: true, initial_access_token: false } };
  tb = await startTestBroker(adminAndRegistration, 'limits');
  limited = await startTestBroker({ ...adminAndRegistration, rate_limits: { window_seconds: LONG_WINDOW, admin: { per_ip: 3 }, registration: { per_ip: 2 } } }, 'limits-rates');
  slow = await startTestBroker({ server: { headers_timeout_seconds: 1, request_timeout_seconds: 1 } }, 'limits-slow');
  capped = await startTestBroker({ server: { max_connections: 2, listen_backlog: 1000 } }, 'limits-capped');
  cappedPerAddress = await startTestBroker({ server: { max_connections: 4, max_connections_per_ip: 2 } }, 'limits-capped-per-address');
});

const portOf = (broker: TestBroker) => Number(new URL(broker.issuer).port);

/** A POST that declares a `length`-byte body but sends only its first kilobyte, and the answer. */
function bigPost(path: string, length: number, contentType: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: portOf(tb), path, method: 'POST', headers: { 'content-type': contentType, 'content-length': length, accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.write('x'.repeat(1024));
  });
}

/** The backlog of the broker's listening socket, as the kernel reports it (ss: a listening socket's Send-Q). */
function listenBacklog(broker: TestBroker): number {
  const line = execFileSync('ss', ['-ltnH', `sport = :${portOf(broker)}`], { encoding: 'utf8' }).trim();
  return Number(line.split(/\s+/)[2]);
}

describe('a 10 MB body', () => {
  it.each([
    ['/token', 'application/x-www-form-urlencoded'],
    ['/request', 'application/x-www-form-urlencoded'],
    ['/reg', 'application/json'],
    ['/admin/clients', 'application/json'],
    ['/interaction/some-login/api/start', 'application/json'],
  ])('is refused with 413 at %s, before it is read', async (path, contentType) => {
    const { status, body } = await bigPost(path, 10 * 1024 * 1024, contentType);
    expect(status).toBe(413);
    expect(JSON.parse(body)).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('too large') });
  });

  it('of unknown length (chunked) is refused with 411', async () => {
    const response = await fetch(`${tb.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new ReadableStream({ start: (controller) => (controller.enqueue(new TextEncoder().encode('grant_type=x')), controller.close()) }),
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(411);
  });
});

describe('rate limits', () => {
  it('bound the admin API per address, before its token is checked', async () => {
    await clearOfWindowEnd();
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await admin(limited.issuer, 'GET', '/admin/clients', undefined, i % 2 ? ADMIN_TOKEN : 'a-guess')).status);
    expect(statuses).toEqual([401, 200, 401, 429]);
  });

  it('bound dynamic registration per address', async () => {
    await clearOfWindowEnd();
    const register = () => fetch(`${limited.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['https://reg.example/cb'] }) });
    const statuses = [(await register()).status, (await register()).status, (await register()).status];
    expect(statuses).toEqual([201, 201, 429]);
  });
});

describe('connections', () => {
  it('a request whose body trickles in is answered 408 and disconnected after request_timeout_seconds', async () => {
    const { socket, closed } = await rawConnection(portOf(slow));
    socket.write(`POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=`);
    expect(await closed).toMatch(/^HTTP\/1\.1 408/);
  });

  it('a client that never finishes its headers is disconnected', async () => {
    const { socket, closed } = await rawConnection(portOf(slow));
    socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    expect(await closed).toMatch(/^HTTP\/1\.1 408/);
  });

  it('an HTTP/1.1 request without Host is answered 400 in JSON with a traceId; HTTP/1.0 needs none', async () => {
    const withoutHost = await rawConnection(portOf(tb));
    withoutHost.socket.write('GET /.well-known/openid-configuration HTTP/1.1\r\nConnection: close\r\n\r\n');
    const [head, body] = (await withoutHost.closed).split('\r\n\r\n') as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/\r\ntraceId: [0-9a-f]{16,}\r\n/i);
    expect(JSON.parse(body)).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('Host') });
    const oldClient = await rawConnection(portOf(tb));
    oldClient.socket.write('GET /.well-known/openid-configuration HTTP/1.0\r\n\r\n');
    const discovery = await oldClient.closed;
    expect(discovery).toMatch(/^HTTP\/1\.1 200 /);
    // Its URLs are the issuer's all the same.
    expect(discovery).toContain(`"issuer":"${tb.issuer}"`);
  });

  it('the listening socket holds server.listen_backlog connections, as far as the kernel allows', () => {
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    expect(listenBacklog(tb)).toBe(Math.min(4096, somaxconn));
    expect(listenBacklog(capped)).toBe(Math.min(1000, somaxconn));
  });

  it('beyond max_connections, a connection is closed at once; the others are served', async () => {
    const held = [await rawConnection(portOf(capped)), await rawConnection(portOf(capped))];
    const third = await rawConnection(portOf(capped));
    expect(await third.closed).toBe('');
    held[0]!.socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(await held[0]!.closed).toMatch(/^HTTP\/1\.1 200/);
    held[1]!.socket.destroy();
    await held[1]!.closed;
  });

  it('one address cannot hold every connection: beyond max_connections_per_ip its next is closed at once, another address is served', async () => {
    const port = portOf(cappedPerAddress);
    const held = [await rawConnection(port), await rawConnection(port)];
    const third = await rawConnection(port);
    expect(await third.closed).toBe('');
    const elsewhere = await rawConnection(port, '127.0.0.2');
    elsewhere.socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(await elsewhere.closed).toMatch(/^HTTP\/1\.1 200/);
    for (const { socket } of held) socket.destroy();
    await Promise.all(held.map(({ closed }) => closed));
    // Its connections closed (as soon as the broker has seen them close), the address is served again.
    const servedAgain = async () => {
      const again = await rawConnection(port);
      again.socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      return /^HTTP\/1\.1 200/.test(await again.closed);
    };
    expect(await eventually(servedAgain)).toBe(true);
  });
});
