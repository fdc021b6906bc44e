import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { rawConnection } from '../support/http.js';
import { METRICS_MAX_CONNECTIONS } from '../../src/metrics/endpoint.js';
import { eventually, Scrape } from '../support/ops.js';
import { findFreePort, monitorCommands } from '../support/redis.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

const METRICS_TOKEN = 'a-metrics-token-that-is-long-enough-for-it';

let tb: TestBroker;
let rp: RelyingParty;
const scrape = () => Scrape.of(`${tb.issuer}/metrics`, METRICS_TOKEN);

beforeAll(async () => {
  tb = await startTestBroker({ metrics: { token: METRICS_TOKEN } }, 'metrics');
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

describe('/metrics', () => {
  it('answers only with the metrics token', async () => {
    const without = await fetch(`${tb.issuer}/metrics`);
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await without.json()).toMatchObject({ error: 'invalid_token' });
    const wrong = await fetch(`${tb.issuer}/metrics`, { headers: { authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${tb.issuer}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(right.status).toBe(200);
    expect(right.headers.get('content-type')).toContain('text/plain');
    expect(await right.text()).toContain('# TYPE neb_eid_logins_total counter');
  });

  it('moves as a login runs: in progress, started, completed, a grant, and Redis commands timed', async () => {
    const labels = { eid: 'test-double' };
    const before = await scrape();
    const started = await rp.authorize({ acr_values: 'urn:test:test-double' });
    expect(started.response.url).toContain('/decide');

    const during = await scrape();
    expect(during.value('neb_oidc_active_interactions')).toBe(before.value('neb_oidc_active_interactions') + 1);
    expect(during.value('neb_eid_logins_total', { ...labels, result: 'started' })).toBe(before.value('neb_eid_logins_total', { ...labels, result: 'started' }) + 1);
    expect(during.value('neb_eid_logins_total', { ...labels, result: 'completed' })).toBe(before.value('neb_eid_logins_total', { ...labels, result: 'completed' }));

    const { leftTo } = await rp.browser.follow(`${started.response.url}&person=0`);
    await rp.redeem(leftTo!);
    const after = await scrape();
    expect(after.value('neb_eid_logins_total', { ...labels, result: 'completed' })).toBe(before.value('neb_eid_logins_total', { ...labels, result: 'completed' }) + 1);
    expect(after.value('neb_oidc_grants_issued_total', { grant_type: 'authorization_code' })).toBe(before.value('neb_oidc_grants_issued_total', { grant_type: 'authorization_code' }) + 1);
    expect(after.value('neb_oidc_active_interactions')).toBe(before.value('neb_oidc_active_interactions'));
    expect(after.value('neb_audit_events_total', { event_id: 'EID_100002' })).toBe(before.value('neb_audit_events_total', { event_id: 'EID_100002' }) + 1);
    expect(after.value('neb_redis_command_duration_seconds_count', { operation: 'get' })).toBeGreaterThan(before.value('neb_redis_command_duration_seconds_count', { operation: 'get' }));
    expect(after.value('neb_store_available')).toBe(1);
    expect(after.value('neb_eid_circuit_state', labels)).toBe(0);
    expect(after.value('neb_eid_available', labels)).toBe(1);
  });

  it("reports Node's process metrics, the event loop's lag among them", async () => {
    const metrics = await scrape();
    expect(metrics.value('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(metrics.text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
  });

  it('counts failed logins by the error the client got', async () => {
    const before = await scrape();
    await logIn(rp, { acr_values: 'urn:test:test-double' }, 'fail=access_denied');
    const after = await scrape();
    const labels = { eid: 'test-double', error: 'access_denied' };
    expect(after.value('neb_eid_login_failures_total', labels)).toBe(before.value('neb_eid_login_failures_total', labels) + 1);
    expect(after.value('neb_eid_logins_total', { eid: 'test-double', result: 'failed' })).toBe(before.value('neb_eid_logins_total', { eid: 'test-double', result: 'failed' }) + 1);
  });

  it('can be served on a port of its own instead of the broker\'s', async () => {
    const separate = await startTestBroker({ metrics: { port: 0 } }, 'metrics-port');
    expect((await fetch(`${separate.issuer}/metrics`)).status).toBe(404);
    const own = await Scrape.of(`http://127.0.0.1:${separate.broker.metricsPort}/metrics`);
    expect(own.text).toContain('neb_store_available 1');
  });

  it('on a port of its own, answers HEAD, refuses another method with 405 and Allow, and takes a request target no URL parses', async () => {
    const separate = await startTestBroker({ metrics: { port: 0 } }, 'metrics-port-methods');
    const metricsUrl = `http://127.0.0.1:${separate.broker.metricsPort}/metrics`;
    const head = await fetch(metricsUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toContain('text/plain');
    const posted = await fetch(metricsUrl, { method: 'POST' });
    expect(posted.status).toBe(405);
    expect(posted.headers.get('allow')).toBe('HEAD, GET');
    expect(await posted.json()).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('GET') });
    // A target the HTTP parser lets through but no URL parses (an absolute form with a broken host).
    const { socket, closed } = await rawConnection(separate.broker.metricsPort!);
    socket.end('GET http://[/metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n');
    expect(await closed).toMatch(/^HTTP\/1\.1 404 /);
    expect((await fetch(metricsUrl)).status).toBe(200);
  });

  it('on a port of its own, answers what the HTTP parser refuses, CONNECT and another Expect as the broker\'s port does: JSON with a traceId', async () => {
    const separate = await startTestBroker({ metrics: { port: 0 } }, 'metrics-port-malformed');
    const port = separate.broker.metricsPort!;
    const sent = [
      ['GET /metrics HTTP/1.1\r\nHost: metrics\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n', 400],
      [`GET /metrics HTTP/1.1\r\nHost: metrics\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`, 431],
      ['CONNECT metrics:443 HTTP/1.1\r\nHost: metrics:443\r\n\r\n', 501],
      ['GET /metrics HTTP/1.1\r\nHost: metrics\r\nExpect: the-moon\r\nConnection: close\r\n\r\n', 417],
    ] as const;
    for (const [request, status] of sent) {
      const { socket, closed } = await rawConnection(port);
      socket.write(request);
      const answer = await closed;
      expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(answer).toMatch(/\r\ntraceId: [0-9a-f]+\r\n/i);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    }
  });


  it('on a port of its own, holds a slow client no longer than the broker does, and only so many connections', async () => {
    const separate = await startTestBroker({ metrics: { port: 0 }, server: { headers_timeout_seconds: 1, request_timeout_seconds: 1 } }, 'metrics-port-slow');
    const port = separate.broker.metricsPort!;
    const slow = await rawConnection(port);
    slow.socket.write('GET /metrics HTTP/1.1\r\nHost: metrics\r\n');
    // Node's own default would hold it for a minute and more, past this test's time.
    expect(await slow.closed).toMatch(/^HTTP\/1\.1 408/);
    const held = await Promise.all(Array.from({ length: METRICS_MAX_CONNECTIONS }, () => rawConnection(port)));
    const past = await rawConnection(port);
    expect(await past.closed).toBe('');
    for (const { socket } of held) socket.destroy();
    await Promise.all(held.map(({ closed }) => closed));
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
  });
  it('is off on the broker\'s port in a production configuration without a token', async () => {
    const port = await findFreePort();
    await startTestBroker({ issuer: 'https://id.example.com', port }, 'metrics-production');
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
  });
});

describe('the logins-in-progress gauge of two instances', () => {
  it('counts on one instance the logins started and ended on the other, whose starts and ends go to Redis in batches', async () => {
    const other = await startTestBroker({ metrics: { token: METRICS_TOKEN } }, 'metrics-other', { prefix: tb.prefix });
    const scrapeOther = () => Scrape.of(`${other.issuer}/metrics`, METRICS_TOKEN);
    const gauge = `${tb.prefix}metrics:interactions`;
    const monitor = await monitorCommands();
    // What the broker sends to track and untrack logins: the script (EVAL once Redis lacks it) with members after its key and two arguments, and ZREM.
    let sent = 0;
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const [command = '', , , key, ...rest] = args;
      const tracks = /^eval(sha)?$/i.test(command) && key === gauge && rest.length > 2;
      if (source !== 'lua' && (tracks || (command.toLowerCase() === 'zrem' && args[1] === gauge))) sent += 1;
    });
    const before = (await scrapeOther()).value('neb_oidc_active_interactions');

    const parties = await Promise.all(Array.from({ length: 10 }, () => RelyingParty.discover(tb.issuer, webClient)));
    const started = await Promise.all(parties.map((party) => party.authorize({ acr_values: 'urn:test:test-double' })));
    await eventually(async () => (await scrapeOther()).value('neb_oidc_active_interactions') === before + 10);

    await Promise.all(parties.map(async (party, i) => party.redeem((await party.browser.follow(`${started[i]!.response.url}&person=0`)).leftTo!)));
    await eventually(async () => (await scrapeOther()).value('neb_oidc_active_interactions') === before);
    // At least a batch of starts and one of ends; one command for every login's start and one for its end would be 20.
    expect(sent).toBeGreaterThanOrEqual(2);
    expect(sent).toBeLessThan(10);
  });
});

describe('health', () => {
  it('/health/live answers while the process runs', async () => {
    const response = await fetch(`${tb.issuer}/health/live`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'live' });
  });

  it('/health/ready says what it checked, and each eID\'s state', async () => {
    const response = await fetch(`${tb.issuer}/health/ready`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({
      status: 'ready',
      checks: { store: 'ok', signing_keys: 'ok' },
      eids: { 'test-double': { available: true, circuit: 'closed' } },
    });
  });
});
