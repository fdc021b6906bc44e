import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { webClient } from '../support/broker.js';
import { auditStream, eventually } from '../support/ops.js';
import { reusePortSupported } from '../../src/http/reuse-port.js';
import { NODE_24 } from '../support/production-nodes.js';
import { spawnBroker, writeConfig } from '../support/process.js';
import { deleteKeysWithPrefix, findFreePort, rateLimitCounts, redisUrl, uniquePrefix } from '../support/redis.js';
import { TestBrowser } from '../support/browser.js';
import { RelyingParty } from '../support/relying-party.js';
import { admin, ADMIN_TOKEN } from './admin-support.js';
import { actAtUpstream, startSimulatedUpstream } from '../support/upstream.js';

const prefix = uniquePrefix('graceful-shutdown');
afterAll(() => deleteKeysWithPrefix(prefix));

/** How long the upstream takes to answer the token request that is in flight at SIGTERM. */
const SLOW_TOKEN_MS = 2_000;

/**
 * A request whose head the client has begun to send on a connection opened earlier — as a
 * balancer's health check on a kept-alive connection — and finishes when `send` is called.
 */
async function startRequest(port: number, head: string): Promise<{ send(): Promise<string> }> {
  const socket: Socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(head);
  return {
    async send() {
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.write('\r\n');
      await once(socket, 'close');
      return answer;
    },
  };
}

/**
 * A broker (on `node`, with `more` configuration) whose Norwegian BankID upstream answers its
 * token request after `tokenMs`, its time limit `timeoutMs`; and a login whose person has
 * answered at the upstream, in a browser of its own there that stops at the way back to the
 * broker (`callbackUrl`). `tokenRequest` resolves when the upstream holds the token request.
 */
async function loginWithSlowUpstream(node: string, more: Record<string, unknown>, tokenMs: number, timeoutMs: number) {
  const port = await findFreePort();
  const issuer = `http://127.0.0.1:${port}`;
  const upstream = await startSimulatedUpstream(
    { id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { timeout: timeoutMs } },
    issuer,
  );
  afterAll(() => upstream.simulator.close());
  const config = { issuer, port, redis: { url: redisUrl, key_prefix: prefix }, clients: [webClient], eids: { 'no-bankid': upstream.section }, ...more };
  const broker = spawnBroker({ BROKER_CONFIG: writeConfig(`broker-${port}.json`, JSON.stringify(config)) }, [], node);
  afterAll(() => broker.stop());
  await broker.listening();

  let tokenRequested!: () => void;
  const tokenRequest = new Promise<void>((resolve) => (tokenRequested = resolve));
  Object.defineProperty(upstream.simulator.faults, 'tokenDelayMs', {
    get: () => {
      tokenRequested();
      return tokenMs;
    },
  });
  const rp = await RelyingParty.discover(issuer, webClient);
  const atUpstream = { browser: new TestBrowser(upstream.simulator.issuer), issuer };
  const { leftTo: toUpstream } = await rp.authorize({ acr_values: 'urn:nordic-eid:no:bankid', scope: 'openid' });
  const callbackUrl = await actAtUpstream(atUpstream, (await atUpstream.browser.follow(toUpstream!)).response, { person: 0 });
  return { port, issuer, broker, rp, callbackUrl, tokenRequest };
}

describe('SIGTERM', () => {
  it.each([
    ["this test run's Node", process.execPath, reusePortSupported() ? 16 : 1],
    ['Node 24, listening on 16 sockets', NODE_24, 16],
  ])('drains on %s: readiness says 503 at once, no new connection, the request in flight is answered, exit code 0', async (_node, node, sockets) => {
    const { port, issuer, broker, rp, callbackUrl, tokenRequest } = await loginWithSlowUpstream(node, {}, SLOW_TOKEN_MS, 3 * SLOW_TOKEN_MS);
    expect(broker.output()).toContain(`"listen_sockets":${sockets}`);
    const healthCheck = await startRequest(port, `GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
    const callback = rp.browser.request(callbackUrl);

    // The upstream holds its token request: that is when the broker is told to stop.
    await tokenRequest;
    broker.child.kill('SIGTERM');
    await eventually(() => broker.output().includes('shutting down'));

    const readiness = await healthCheck.send();
    expect(readiness).toMatch(/^HTTP\/1\.1 503 /);
    expect(readiness).toContain('"shutdown":"draining"');
    await expect(fetch(`${issuer}/health/live`)).rejects.toThrow();

    // The broker's callback, which waited for the upstream's token, is answered: the login goes on.
    const answered = await callback;
    expect(answered.status).toBe(303);
    expect(answered.headers.get('location')).toContain('/interaction/');
    const { code } = await broker.exited();
    expect(code).toBe(0);
    expect(broker.output()).not.toContain('were cut');
  }, 60_000);

  it("lets a callback whose upstream answers after shutdown.drain_seconds finish within the eID's time limit: the login is not lost", async () => {
    const { broker, rp, callbackUrl, tokenRequest } = await loginWithSlowUpstream(process.execPath, { shutdown: { drain_seconds: 1 } }, 3 * SLOW_TOKEN_MS / 2, 3 * SLOW_TOKEN_MS);
    const callback = rp.browser.request(callbackUrl);
    await tokenRequest;
    broker.child.kill('SIGTERM');

    const answered = await callback;
    expect(answered.status).toBe(303);
    expect(new URL(answered.headers.get('location')!, callbackUrl).pathname).toMatch(/^\/interaction\/[^/]+\/complete$/);
    expect((await broker.exited()).code).toBe(0);
    expect(broker.output()).not.toContain('were cut');
  }, 60_000);

  it('appends the audit events it still holds to the stream before it exits', async () => {
    const port = await findFreePort();
    const issuer = `http://127.0.0.1:${port}`;
    const eventsPrefix = `${prefix}events:`;
    afterAll(() => deleteKeysWithPrefix(eventsPrefix));
    const config = { issuer, port, redis: { url: redisUrl, key_prefix: eventsPrefix }, clients: [webClient], admin: { token: ADMIN_TOKEN }, eids: { 'fi-ftn': { mode: 'simulator' } } };
    const broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker-audit.json', JSON.stringify(config)) });
    afterAll(() => broker.stop());
    await broker.listening();

    // Each creation is audited as it is answered; the stream gets them in batches, the last one
    // at the latest when the process ends — here at once, before the batch's time is up.
    const created: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const answer = await admin(issuer, 'POST', '/admin/clients', { redirect_uris: ['https://shop.example/callback'], display_name: `Shop ${i}` });
      created.push(String(answer.body.client_id));
    }
    broker.child.kill('SIGTERM');
    expect((await broker.exited()).code).toBe(0);
    const events = (await auditStream(eventsPrefix)).filter((event) => event.event === 'client.created');
    expect(events.map((event) => event.client_id)).toEqual(created);
  }, 60_000);

  it('ends all the same when nobody reads its stdout: it serves on meanwhile, and exits with 0', async () => {
    const port = await findFreePort();
    const issuer = `http://127.0.0.1:${port}`;
    const config = { issuer, port, redis: { url: redisUrl, key_prefix: `${prefix}stuck-log:` }, clients: [webClient], eids: { 'fi-ftn': { mode: 'simulator' } } };
    const broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker-stuck-log.json', JSON.stringify(config)) });
    afterAll(() => broker.child.kill('SIGKILL'));
    await broker.listening();
    // The log reader stops: the pipe fills, and the broker's writes to it are refused (EAGAIN).
    broker.child.stdout!.pause();
    // Each request's line holds its path: 4 KB lines fill the pipe and its buffers within a few hundred requests.
    const longPath = `/${'a'.repeat(4_000)}`;
    for (let i = 0; i < 300; i += 1) expect((await fetch(`${issuer}${longPath}`)).status).toBe(404);
    expect((await fetch(`${issuer}/health/ready`)).status).toBe(200);

    broker.child.kill('SIGTERM');
    expect((await broker.exited()).code).toBe(0);
  }, 60_000);

  it('sends the rate-limit counts it still holds to the store before it exits', async () => {
    const port = await findFreePort();
    const issuer = `http://127.0.0.1:${port}`;
    const limitsPrefix = `${prefix}limits:`;
    afterAll(() => deleteKeysWithPrefix(limitsPrefix));
    // The counts are held far longer than the test takes: only the shutdown sends them.
    const config = { issuer, port, redis: { url: redisUrl, key_prefix: limitsPrefix }, clients: [webClient], eids: { 'fi-ftn': { mode: 'simulator' } }, rate_limits: { flush_ms: 5000 } };
    const broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker-limits.json', JSON.stringify(config)) });
    afterAll(() => broker.stop());
    await broker.listening();

    for (let i = 0; i < 3; i += 1) expect((await fetch(`${issuer}/session/end`)).status).toBe(200);
    broker.child.kill('SIGTERM');
    expect((await broker.exited()).code).toBe(0);
    expect(await rateLimitCounts(limitsPrefix, 'logout')).toEqual({ 'ip:127.0.0.1': 3 });
  }, 60_000);
});
