import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBroker } from '../support/broker.js';
import { startTestBroker, webClient } from '../support/broker.js';
import { spawnBroker, writeConfig, type BrokerProcess } from '../support/process.js';
import { startReceiver, type Received, type Receiver } from '../support/receiver.js';
import { deleteKeysWithPrefix, findFreePort, monitorCommands, redisUrl, startRedisBehindPassage, uniquePrefix } from '../support/redis.js';
import { auditStream, capturingLog, everythingStored, eventually, Scrape } from '../support/ops.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { admin, ADMIN_TOKEN, startAdminBroker } from './admin-support.js';

/**
 * Webhooks: audit events POSTed to the operator's endpoints, each signed with the endpoint's
 * secret, retried from a queue in Redis. The endpoint here is a real HTTP server that checks
 * every signature the way the README tells operators to.
 */

const SECRET = 'the-siem-webhook-secret-0123456789abcdef';
/** How far a delivery's timestamp may be from the receiver's clock. */
const TOLERANCE_SECONDS = 300;

/** The receiver's check: HMAC-SHA256 over `<timestamp>.<body>` with the secret, and a fresh timestamp. */
function signatureHolds(request: Received, secret: string): boolean {
  const timestamp = String(request.headers['webhook-timestamp']);
  const signature = Buffer.from(String(request.headers['webhook-signature']));
  const expected = Buffer.from(`v1=${createHmac('sha256', secret).update(`${timestamp}.${request.body}`).digest('hex')}`);
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) <= TOLERANCE_SECONDS;
  return fresh && signature.length === expected.length && timingSafeEqual(signature, expected);
}

const to = (path: string, event: string) => (request: Received) => request.url.pathname === path && request.headers['webhook-event'] === event;

let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
});

describe('webhooks of a broker', () => {
  let tb: TestBroker;

  beforeAll(async () => {
    tb = await startAdminBroker({ webhooks: { endpoints: [{ id: 'siem', url: `${receiver.origin}/siem`, secret: SECRET }], first_retry_seconds: 0.2 } }, 'webhooks');
  });

  it('deliver a completed login to the configured endpoint, signed with its secret', async () => {
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const tokens = await rp.redeem(await logIn(rp));
    const delivery = await receiver.waitFor(to('/siem', 'authentication.completed'));
    expect(delivery.method).toBe('POST');
    expect(delivery.headers['content-type']).toBe('application/json');
    expect(signatureHolds(delivery, SECRET)).toBe(true);
    expect(JSON.parse(delivery.body)).toMatchObject({ event_id: 'EID_100002', sub: tokens.claims()!.sub, personal_number: '19811218****', client_id: webClient.client_id });
    // The same delivery, changed on the way or signed with another secret, fails the check.
    expect(signatureHolds({ ...delivery, body: delivery.body.replace('EID_100002', 'EID_100003') }, SECRET)).toBe(false);
    expect(signatureHolds(delivery, 'another-secret-of-the-same-length-0123456')).toBe(false);
  });

  it('retry a delivery the endpoint answered with 500, with the same webhook-id', async () => {
    receiver.answerWith(500);
    const created = await admin(tb.issuer, 'POST', '/admin/clients', { client_id: 'retried-shop', redirect_uris: ['https://retried.example/cb'] });
    expect(created.status).toBe(201);
    const isRetriedShop = (r: Received) => to('/siem', 'client.created')(r) && JSON.parse(r.body).client_id === 'retried-shop';
    const first = await receiver.waitFor(isRetriedShop);
    const second = await receiver.waitFor((r) => isRetriedShop(r) && r !== first);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(signatureHolds(second, SECRET)).toBe(true);
    const metrics = await (await fetch(`${tb.issuer}/metrics`)).text();
    expect(metrics).toMatch(/neb_webhook_deliveries_total\{webhook="siem",result="retried"\} [1-9]/);
    expect(metrics).toMatch(/neb_webhook_deliveries_total\{webhook="siem",result="delivered"\} [1-9]/);
    expect(metrics).toMatch(/neb_webhook_queue_depth \d+/);
  });

  it('take endpoints through the admin API: the secret shown once, https only, the events chosen', async () => {
    const refused = await admin(tb.issuer, 'POST', '/admin/webhooks', { url: 'http://siem.example/hook' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/^url: must use https/) });

    const created = await admin(tb.issuer, 'POST', '/admin/webhooks', { id: 'deletions', url: `${receiver.origin}/deletions`, events: ['client.deleted'] });
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const listed = await admin(tb.issuer, 'GET', '/admin/webhooks');
    expect(listed.body.webhooks).toEqual([
      { id: 'siem', url: `${receiver.origin}/siem`, events: expect.arrayContaining(['authentication.completed', 'client.created']), source: 'static' },
      { id: 'deletions', url: `${receiver.origin}/deletions`, events: ['client.deleted'], source: 'dynamic' },
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    // Redis holds the endpoint sealed: a copy of the store does not sign deliveries.
    expect(await everythingStored(tb.prefix)).not.toContain(secret);

    await admin(tb.issuer, 'POST', '/admin/clients', { client_id: 'short-lived', redirect_uris: ['https://short.example/cb'] });
    expect((await admin(tb.issuer, 'DELETE', '/admin/clients/short-lived')).status).toBe(204);
    const deletion = await receiver.waitFor(to('/deletions', 'client.deleted'));
    expect(signatureHolds(deletion, secret)).toBe(true);
    expect(receiver.received.some(to('/deletions', 'client.created'))).toBe(false);

    expect((await admin(tb.issuer, 'DELETE', '/admin/webhooks/siem')).body.error).toBe('read_only_webhook');
    expect((await admin(tb.issuer, 'DELETE', '/admin/webhooks/deletions')).status).toBe(204);
    expect((await admin(tb.issuer, 'GET', '/admin/webhooks/deletions')).status).toBe(404);
    expect(await everythingStored(`${tb.prefix}webhooks:endpoint`)).not.toContain('deletions');
  });
});

describe('webhooks for some events only', () => {
  const app = { client_id: 'refreshing-app', redirect_uris: ['https://refreshing.example/cb'], token_endpoint_auth_method: 'none' as const, refresh_tokens_without_consent: true };
  let tb: TestBroker;

  beforeAll(async () => {
    tb = await startAdminBroker(
      { clients: [app], webhooks: { endpoints: [{ id: 'logins', url: `${receiver.origin}/logins`, secret: SECRET, events: ['authentication.completed'] }] } },
      'webhooks-some-events',
    );
  });

  it('deliver the event the endpoint wants, and nothing of the events no endpoint wants (a login\'s start, every token issued)', async () => {
    const rp = await RelyingParty.discover(tb.issuer, app);
    const tokens = await rp.redeem(await logIn(rp, { scope: 'openid offline_access' }));
    let refreshToken = tokens.refresh_token!;
    for (let i = 0; i < 3; i += 1) refreshToken = (await client.refreshTokenGrant(rp.config, refreshToken)).refresh_token!;

    const delivered = await receiver.waitFor(to('/logins', 'authentication.completed'));
    expect(JSON.parse(delivered.body)).toMatchObject({ event_id: 'EID_100002', client_id: app.client_id, sub: tokens.claims()!.sub });
    // The events happened (the audit stream has them) …
    const written = await eventually(async () => {
      const events = (await auditStream(tb.prefix)).filter((event) => event.event === 'tokens.issued');
      return events.length === 4 && events;
    });
    expect(written).toHaveLength(4);
    // … and once the queue is empty, the endpoint got the one event it wants, once, and nothing was queued for the others.
    const metricsUrl = `${tb.issuer}/metrics`;
    const settled = await eventually(async () => {
      const scrape = await Scrape.of(metricsUrl);
      return scrape.value('neb_webhook_queue_depth') === 0 && scrape;
    });
    expect(receiver.received.filter((request) => request.url.pathname === '/logins').map((request) => request.headers['webhook-event'])).toEqual(['authentication.completed']);
    expect(settled.value('neb_webhook_deliveries_total', { webhook: 'logins' })).toBe(1);
    expect(settled.value('neb_webhook_deliveries_total', { webhook: 'logins', result: 'delivered' })).toBe(1);
  });
});

describe('webhooks across a broker restart', () => {
  const prefix = uniquePrefix('webhooks-restart');
  let broker: BrokerProcess | undefined;

  afterAll(async () => {
    await broker?.stop();
    await deleteKeysWithPrefix(prefix);
  });

  it('lose nothing: a delivery that failed before the restart is delivered after it', async () => {
    const port = await findFreePort();
    const issuer = `http://127.0.0.1:${port}`;
    const config = writeConfig(
      'broker.json',
      JSON.stringify({
        issuer,
        port,
        redis: { url: redisUrl, key_prefix: prefix },
        admin: { token: ADMIN_TOKEN },
        // A broker needs an eID; this test uses none of it.
        eids: { 'no-bankid': { mode: 'simulator' } },
        webhooks: { endpoints: [{ id: 'restart', url: `${receiver.origin}/restart`, secret: SECRET, events: ['client.created'] }], first_retry_seconds: 3 },
        log: { level: 'info' },
      }),
    );
    broker = spawnBroker({ BROKER_CONFIG: config });
    await broker.listening();
    receiver.answerWith(500);
    expect((await admin(issuer, 'POST', '/admin/clients', { client_id: 'across-restart', redirect_uris: ['https://restart.example/cb'] })).status).toBe(201);
    const failed = await receiver.waitFor(to('/restart', 'client.created'));
    await broker.stop();
    expect(receiver.received.filter(to('/restart', 'client.created'))).toHaveLength(1);

    broker = spawnBroker({ BROKER_CONFIG: config });
    await broker.listening();
    const delivered = await receiver.waitFor((r) => to('/restart', 'client.created')(r) && r !== failed);
    expect(delivered.headers['webhook-id']).toBe(failed.headers['webhook-id']);
    expect(JSON.parse(delivered.body)).toMatchObject({ event: 'client.created', client_id: 'across-restart' });
    expect(signatureHolds(delivered, SECRET)).toBe(true);
  }, 60_000);
});

/** A broker of its own process on `prefix` (an instance of the same deployment as another), with the admin API and no eID used. */
function spawnInstance(prefix: string, port: number, webhooks: Record<string, unknown>): BrokerProcess {
  const config = {
    issuer: `http://127.0.0.1:${port}`,
    port,
    redis: { url: redisUrl, key_prefix: prefix },
    admin: { token: ADMIN_TOKEN },
    eids: { 'no-bankid': { mode: 'simulator' } },
    webhooks,
    log: { level: 'info' },
  };
  return spawnBroker({ BROKER_CONFIG: writeConfig(`instance-${port}.json`, JSON.stringify(config)) });
}

describe('webhooks across instances', () => {
  const prefix = uniquePrefix('webhooks-instances');
  let other: BrokerProcess | undefined;

  afterAll(async () => {
    await other?.stop();
  });

  it('deliver through an instance that knew of no endpoint, once another instance took one through the admin API and stopped', async () => {
    // This instance starts with no endpoint: its worker leaves the queue alone until it hears of one.
    await startTestBroker({ admin: { token: ADMIN_TOKEN } }, 'webhooks-instances', { prefix });
    const port = await findFreePort();
    const otherIssuer = `http://127.0.0.1:${port}`;
    other = spawnInstance(prefix, port, { first_retry_seconds: 3 });
    await other.listening();

    receiver.answerWith(500);
    const created = await admin(otherIssuer, 'POST', '/admin/webhooks', { id: 'joined', url: `${receiver.origin}/joined`, events: ['client.created'] });
    expect(created.status).toBe(201);
    expect((await admin(otherIssuer, 'POST', '/admin/clients', { client_id: 'joined-shop', redirect_uris: ['https://joined.example/cb'] })).status).toBe(201);
    const failed = await receiver.waitFor(to('/joined', 'client.created'));
    // The retry is due after the other instance is gone: only this one can deliver it.
    await other.stop();
    other = undefined;

    const delivered = await receiver.waitFor((r) => to('/joined', 'client.created')(r) && r !== failed);
    expect(delivered.headers['webhook-id']).toBe(failed.headers['webhook-id']);
    expect(signatureHolds(delivered, created.body.secret as string)).toBe(true);
  }, 60_000);
});

describe('webhooks of an endpoint that is down', () => {
  const MAX_QUEUED = 3;
  let tb: TestBroker;
  const { log, lines } = capturingLog();

  beforeAll(async () => {
    const nobodyListens = await findFreePort();
    tb = await startTestBroker(
      {
        eids: { 'test-double': { acr_values: ['urn:test:se'] }, 'other-double': { country: 'NO', acr_values: ['urn:test:no'] } },
        webhooks: { endpoints: [{ id: 'down', url: `http://127.0.0.1:${nobodyListens}/down`, secret: SECRET }], max_queued: MAX_QUEUED },
      },
      'webhooks-down',
      { log },
    );
  });

  // Each delivery waits a day for the endpoint: without a bound, a stranger starting logins and
  // cancelling them on the picker writes a day's record to Redis with every one.
  it("queue no more than max_queued deliveries of strangers' cancelled logins, and count the others dropped", async () => {
    const stranger = await RelyingParty.discover(tb.issuer, webClient);
    for (let i = 0; i < MAX_QUEUED + 3; i += 1) {
      const picker = new URL((await stranger.authorize()).response.url);
      const { leftTo } = await stranger.browser.submit(`${picker.pathname}/cancel`, {});
      expect(leftTo?.searchParams.get('error')).toBe('access_denied');
    }
    const scrape = await eventually(async () => {
      const scraped = await Scrape.of(`${tb.issuer}/metrics`);
      return scraped.value('neb_webhook_deliveries_total', { webhook: 'down', result: 'dropped' }) === 3 && scraped;
    });
    expect(scrape.value('neb_webhook_queue_depth')).toBe(MAX_QUEUED);
    expect(lines().filter((line) => String(line.msg).startsWith('webhook queue full'))).toHaveLength(1);
    // Every cancel is still in the audit stream.
    await eventually(async () => (await auditStream(tb.prefix)).filter((event) => event.event === 'authentication.cancelled').length === MAX_QUEUED + 3);
  });
});

describe('webhooks of a broker without endpoints', () => {
  it('leave the queue alone after the first look: no script every 500 ms, not for a login either', async () => {
    const prefix = uniquePrefix('webhooks-none');
    const queue = `${prefix}webhooks:queue`;
    const monitor = await monitorCommands();
    let looks = 0;
    // The scripts the broker sends, not the commands each runs.
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.includes(queue)) looks += 1;
    });
    const tb = await startTestBroker({}, 'webhooks-none', { prefix });
    // The first look clears what a deleted endpoint may have left queued.
    await eventually(() => looks === 1);

    const rp = await RelyingParty.discover(tb.issuer, webClient);
    await rp.redeem(await logIn(rp));
    // Four of the worker's ticks.
    await sleep(2000);
    expect(looks).toBe(1);
  });
});

// The queue's write met a dropped connection: the delivery was lost for good (only the log had
// the event), though Redis was back a moment later.
describe('webhooks while the connection to Redis drops', () => {
  const prefix = 'webhooks-drop:';
  let faulty: Awaited<ReturnType<typeof startRedisBehindPassage>>;
  let tb: TestBroker;

  beforeAll(async () => {
    faulty = await startRedisBehindPassage();
    const endpoint = { id: 'dropped', url: `${receiver.origin}/dropped`, secret: SECRET, events: ['client.created' as const] };
    tb = await startAdminBroker({ redis: { url: faulty.passage.url, key_prefix: prefix }, rate_limits: { enabled: false }, webhooks: { endpoints: [endpoint] } }, 'webhooks-drop');
  }, 60_000);
  afterAll(async () => {
    await tb?.close();
    await faulty?.stop();
  });

  it.each([
    ['at the write of the delivery', 'dropped-at-write', new RegExp(`\\r\\n1\\r\\n\\$\\d+\\r\\n${prefix}webhooks:delivery:`)],
    ['at its scheduling in the queue', 'dropped-at-schedule', new RegExp(`zadd\\r\\n\\$\\d+\\r\\n${prefix}webhooks:queue`, 'i')],
  ])('%s: the delivery is queued once Redis is back, and delivered once', async (_step, clientId, command) => {
    const dropped = faulty.passage.cutAt(command);
    expect((await admin(tb.issuer, 'POST', '/admin/clients', { client_id: clientId, redirect_uris: ['https://dropped.example/cb'] })).status).toBe(201);
    await dropped;
    const isIt = (r: Received) => to('/dropped', 'client.created')(r) && JSON.parse(r.body).client_id === clientId;
    const delivery = await receiver.waitFor(isIt, 15_000);
    expect(signatureHolds(delivery, SECRET)).toBe(true);
    await sleep(1_500);
    expect(receiver.received.filter(isIt)).toHaveLength(1);
  }, 60_000);
});
