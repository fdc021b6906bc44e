import { isDeepStrictEqual } from 'node:util';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { auditStream, capturingLog, eventually } from '../support/ops.js';
import { startRedisBehindPassage } from '../support/redis.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { testPersons } from '../support/test-double-eid.js';

const ADMIN_TOKEN = 'an-admin-token-that-is-long-enough-for-the-schema';
const CLEAR_NUMBER = testPersons[0]!.PersonalNumber!;

let tb: TestBroker;
let rp: RelyingParty;
const captured = capturingLog();

beforeAll(async () => {
  tb = await startTestBroker(
    {
      eids: { 'test-double': { custom_identifier: 'shop-se' }, 'other-double': {} },
      admin: { token: ADMIN_TOKEN },
    },
    'audit',
    { log: captured.log },
  );
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

/** The events written since `before` events were in the stream. */
async function eventsAfter(before: number): Promise<AuditEvent[]> {
  await tb.broker.audit.flush();
  return (await auditStream(tb.prefix)).slice(before);
}

/** The stream's length once the events so far are in it (its sink appends them in batches). */
const streamLength = async () => {
  await tb.broker.audit.flush();
  return (await auditStream(tb.prefix)).length;
};
const rawAuditLines = () => captured.text().split('\n').filter((raw) => raw.includes('"audit":true'));

/** The fields of `record` named in `keys`. */
const pick = (record: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.filter((key) => key in record).map((key) => [key, record[key]]));

describe('audit events of a login', () => {
  it('a completed login: started, completed and tokens issued, once each, with the fields support needs', async () => {
    const before = await streamLength();
    const tokens = await rp.redeem(await logIn(rp, { acr_values: 'urn:test:test-double' }));
    const sub = tokens.claims()!.sub;
    const events = await eventsAfter(before);
    expect(events.map((event) => event.event_id)).toEqual(['EID_100001', 'EID_100002', 'EID_200001']);
    const [started, completed, issued] = events as [AuditEvent, AuditEvent, AuditEvent];

    expect(started).toMatchObject({
      event: 'authentication.started',
      eid: 'test-double',
      client_id: webClient.client_id,
      source_ip: '127.0.0.1',
      custom_identifier: 'shop-se',
      acr: 'urn:test:test-double',
    });
    expect(started.traceId).toMatch(/^[0-9a-f]{16}$/);
    expect(started.login_id).toEqual(expect.any(String));
    // The event's traceId is the one of the request that started the eID, as its log lines have.
    const startRequest = captured.lines().find((line) => line.msg === 'request' && line.path === `/interaction/${started.login_id}`);
    expect(startRequest?.traceId).toBe(started.traceId);

    expect(completed).toMatchObject({
      event: 'authentication.completed',
      eid: 'test-double',
      login_id: started.login_id,
      client_id: webClient.client_id,
      source_ip: '127.0.0.1',
      custom_identifier: 'shop-se',
      sub,
      transaction_id: testPersons[0]!.IdProviderRequestId,
      personal_number: '19811218****',
      acr: 'urn:test:test-double',
    });
    expect(issued).toMatchObject({ event: 'tokens.issued', client_id: webClient.client_id, grant_type: 'authorization_code', sub });
    expect(issued.scope).toContain('openid');

    expect(completed).not.toHaveProperty('device_ip');

    // One JSON log line per event, with the same content; its time is the line's own, and the line
    // names each key once (JSON.parse would hide a second `time`: the raw text is counted).
    for (const event of events) {
      const fields = Object.fromEntries(Object.entries(event).filter(([key]) => key !== 'time'));
      const lines = rawAuditLines().filter((raw) => isDeepStrictEqual(pick(JSON.parse(raw) as Record<string, unknown>, Object.keys(fields)), fields));
      expect(lines).toHaveLength(1);
      expect(lines[0]!.match(/"time":/g)).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
    }
  });

  it("a completed login carries the address of the person's device where the eID reports it, beside the browser's", async () => {
    const before = await streamLength();
    await logIn(rp, { acr_values: 'urn:test:test-double' }, 'person=0&device_ip=198.51.100.7');
    const completed = (await eventsAfter(before)).find((event) => event.event === 'authentication.completed');
    expect(completed).toMatchObject({ source_ip: '127.0.0.1', device_ip: '198.51.100.7' });
  });

  it('never writes a personal number in clear: not in the stream, not in any log line', async () => {
    await logIn(rp, { acr_values: 'urn:test:test-double' });
    await tb.broker.audit.flush();
    expect(JSON.stringify(await auditStream(tb.prefix))).not.toContain(CLEAR_NUMBER);
    expect(captured.text()).not.toContain(CLEAR_NUMBER);
  });

  it('a failed login: started, then failed with the error the client got', async () => {
    const before = await streamLength();
    const callback = await logIn(rp, { acr_values: 'urn:test:test-double' }, 'fail=server_error');
    expect(callback.searchParams.get('error')).toBe('server_error');
    const events = await eventsAfter(before);
    expect(events.map((event) => event.event_id)).toEqual(['EID_100001', 'EID_100003']);
    expect(events[1]).toMatchObject({
      event: 'authentication.failed',
      eid: 'test-double',
      login_id: events[0]!.login_id,
      error: 'server_error',
      message: 'the test double failed with server_error',
    });
    expect(events[1]!.sub).toBeUndefined();
  });

  it('a login the person gives up: started, then cancelled, once — however the cancel is repeated', async () => {
    const before = await streamLength();
    const { response } = await rp.authorize();
    const uid = /\/interaction\/([^/?]+)/.exec(response.url)![1]!;
    const api = (path: string, body: unknown) =>
      rp.browser.request(`/interaction/${uid}/api/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await api('start', { eid: 'test-double' })).status).toBe(200);
    const cancelled = (await (await api('cancel', { leave: 'login' })).json()) as { redirectTo: string };
    expect((await api('cancel', { leave: 'login' })).status).toBe(200);
    const { leftTo } = await rp.browser.follow(cancelled.redirectTo);
    expect(leftTo?.searchParams.get('error')).toBe('access_denied');

    const events = await eventsAfter(before);
    expect(events.map((event) => event.event_id)).toEqual(['EID_100001', 'EID_100004']);
    expect(events[1]).toMatchObject({ event: 'authentication.cancelled', eid: 'test-double', login_id: uid, error: 'access_denied', ending: 'cancelled' });
  });
});

describe('audit events of an eID left for another', () => {
  it('a cancel at the eID that takes the person back to the picker is audited as that eID\'s ending', async () => {
    const before = await streamLength();
    const { response } = await rp.authorize();
    const uid = /\/interaction\/([^/?]+)/.exec(response.url)![1]!;
    const api = async (path: string, body: unknown) =>
      (await (
        await rp.browser.request(`/interaction/${uid}/api/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(body),
        })
      ).json()) as { redirectTo: string };
    await api('start', { eid: 'test-double' });
    expect((await api('cancel', {})).redirectTo).toBe(`${tb.issuer}/interaction/${uid}/`);
    const events = await eventsAfter(before);
    expect(events.map((event) => event.event_id)).toEqual(['EID_100001', 'EID_100004']);
    expect(events[1]).toMatchObject({ event: 'authentication.cancelled', eid: 'test-double', login_id: uid, error: 'access_denied', ending: 'cancelled' });
  });
});

describe('audit events of clients and sessions', () => {
  it('a client created and its secret rotated through the admin API, with no secret in the events', async () => {
    const before = await streamLength();
    const admin = (path: string, init: RequestInit = {}) =>
      fetch(`${tb.issuer}/admin${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' } });
    const created = (await (
      await admin('/clients', { method: 'POST', body: JSON.stringify({ client_id: 'audited-shop', redirect_uris: ['https://audited.example/cb'] }) })
    ).json()) as { client_secret: string };
    const rotated = (await (await admin('/clients/audited-shop/rotate-secret', { method: 'POST' })).json()) as { client_secret: string };
    expect((await admin('/clients/audited-shop', { method: 'DELETE' })).status).toBe(204);

    const events = await eventsAfter(before);
    expect(events.map((event) => [event.event_id, event.client_id, event.actor])).toEqual([
      ['EID_400001', 'audited-shop', 'admin_api'],
      ['EID_400004', 'audited-shop', 'admin_api'],
      ['EID_400003', 'audited-shop', 'admin_api'],
    ]);
    for (const secret of [created.client_secret, rotated.client_secret]) {
      expect(JSON.stringify(events)).not.toContain(secret);
      expect(captured.text()).not.toContain(secret);
    }
  });

  it('an RP-initiated logout', async () => {
    const tokens = await rp.redeem(await logIn(rp, { acr_values: 'urn:test:test-double' }));
    const before = await streamLength();
    const endSession = client.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: webClient.post_logout_redirect_uris[0]! });
    const page = await (await rp.browser.request(endSession)).text();
    await rp.browser.confirmLogout(page);
    const events = await eventsAfter(before);
    expect(events.map((event) => event.event_id)).toEqual(['EID_300001']);
    expect(events[0]).toMatchObject({ event: 'logout', client_id: webClient.client_id, sub: tokens.claims()!.sub, source_ip: '127.0.0.1' });
  });
});

describe('with audit.personal_numbers_in_clear', () => {
  it('shows the personal number in clear', async () => {
    const clear = await startTestBroker({ audit: { personal_numbers_in_clear: true } }, 'audit-clear');
    const clearRp = await RelyingParty.discover(clear.issuer, webClient);
    await logIn(clearRp);
    await clear.broker.audit.flush();
    const completed = (await auditStream(clear.prefix)).find((event) => event.event_id === 'EID_100002');
    expect(completed?.personal_number).toBe(CLEAR_NUMBER);
  });
});

// The stream's append met a dropped connection: the batch was gone from the stream for good (only
// the log had its events), though Redis was back a moment later; sent again blindly, a batch whose
// answer alone was lost would be in the stream twice.
describe('the audit stream while the connection to Redis drops', () => {
  let faulty: Awaited<ReturnType<typeof startRedisBehindPassage>>;
  let dropping: TestBroker;

  beforeAll(async () => {
    faulty = await startRedisBehindPassage();
    dropping = await startTestBroker({ redis: { url: faulty.passage.url, key_prefix: 'audit-drop:' }, admin: { token: ADMIN_TOKEN } }, 'audit-drop');
  }, 60_000);
  afterAll(async () => {
    await dropping?.close();
    await faulty?.stop();
  });

  it.each([
    ['before the append runs', 'cutAt', 'dropped-before'],
    ['as the append is answered', 'cutAfter', 'dropped-after'],
  ] as const)('%s: the batch is in the stream once Redis is back, once', async (_when, fault, clientId) => {
    // Connected again after the last case's drop.
    await eventually(async () => (await fetch(`${dropping.issuer}/health/ready`)).ok);
    const dropped = faulty.passage[fault](/\r\naudit-drop:audit:events\r\n/);
    const created = await fetch(`${dropping.issuer}/admin/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: clientId, redirect_uris: ['https://dropped.example/cb'] }),
    });
    expect(created.status).toBe(201);
    await dropped;
    await dropping.broker.audit.flush();
    const events = await auditStream('audit-drop:', faulty.redis.url);
    expect(events.filter((event) => event.client_id === clientId).map((event) => event.event_id)).toEqual(['EID_400001']);
  }, 30_000);

  // The mark that a login's ending was audited ran, but its answer was lost: the request failed,
  // and its Try again found the mark taken and emitted nothing; the login completed unaudited.
  it("as the mark of a login's ending is answered: the login completes, audited once", async () => {
    await eventually(async () => (await fetch(`${dropping.issuer}/health/ready`)).ok);
    const dropRp = await RelyingParty.discover(dropping.issuer, webClient);
    const started = await dropRp.authorize({ acr_values: 'urn:test:test-double' });
    const uid = /\/interaction\/([^/]+)\//.exec(started.response.url)![1]!;
    const dropped = faulty.passage.cutAfter(/\r\naudit-drop:audit:[a-z]+:ended:/);
    let back = await dropRp.browser.follow(`${started.response.url}&person=0`);
    await dropped;
    // What a person does with a page that says to try again in a moment.
    if (!back.leftTo) {
      expect(back.response.status).toBe(503);
      await eventually(async () => (await fetch(`${dropping.issuer}/health/ready`)).ok);
      back = await dropRp.browser.follow(`${started.response.url}&person=0`);
    }
    expect(back.leftTo?.searchParams.get('code')).toBeTruthy();
    await dropping.broker.audit.flush();
    const events = (await auditStream('audit-drop:', faulty.redis.url)).filter((event) => event.login_id === uid);
    // In either order: the start's batch may have met the same drop, and been appended again after.
    expect(events.map((event) => event.event).sort()).toEqual(['authentication.completed', 'authentication.started']);
  }, 30_000);
});
