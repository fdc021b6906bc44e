import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { simulatedPersons } from '../../providers/se-bankid/simulator/persons.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { BankIdSession, bankIdSection } from '../../providers/se-bankid/test/support.js';
import type { Balancer } from '../support/balancer.js';
import { webClient, type TestBroker } from '../support/broker.js';
import { startDeployment, type Deployment } from '../support/deployment.js';
import { EventStreamReader } from '../support/event-stream.js';
import { rawConnection } from '../support/http.js';
import { deleteKeysWithPrefix, uniquePrefix } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';

const OTHER = 'urn:nordic-eid:se:bankid:other-device';

let simulator: BankIdSimulator;
let balancer: Balancer;
let rp: RelyingParty;
let deployment: Deployment;
let instances: Deployment['instances'];
const prefix = uniquePrefix('event-stream');

/**
 * Two broker processes on one Redis behind a load balancer, as in production; the event
 * streams of a test go to the instance the test picks, as a balancer might.
 */
beforeAll(async () => {
  const pki = await createTestPki();
  simulator = await startBankIdSimulator({ pki });
  deployment = await startDeployment(prefix, {
    // poll_frequency 1 s (bankIdSection): collects are counted against it below.
    eids: { 'se-bankid': bankIdSection(simulator, pki), 'no-bankid': { mode: 'simulator' } },
    event_streams: { per_login: 4 },
  });
  ({ balancer, instances } = deployment);
  rp = await RelyingParty.discover(balancer.url, webClient);
}, 60_000);

afterAll(async () => {
  await deployment?.stop();
  await simulator?.close();
  await deleteKeysWithPrefix(prefix);
});

async function startedLogin(): Promise<BankIdSession> {
  const session = await BankIdSession.begin({ simulator, rp, tb: { issuer: balancer.url } as TestBroker }, { acr_values: OTHER });
  expect((await session.start()).status).toBe('IN_PROGRESS');
  return session;
}

const streamOf = (session: BankIdSession, instance: number) =>
  new EventStreamReader(rp.browser, balancer.url, `/interaction/${session.uid}/api/events`, instances[instance]!.url);

/** A request of the login's browser to `path`, as raw HTTP/1.1 (`body`: JSON). */
function rawRequest(session: BankIdSession, method: string, path: string, body?: string): string {
  const url = new URL(`/interaction/${session.uid}/api/${path}`, balancer.url);
  const head = [`${method} ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, `Cookie: ${rp.browser.cookieHeader(url)}`];
  if (body !== undefined) head.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close');
  else head.push('Accept: text/event-stream');
  return `${head.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

/** What an instance (the first unless said) answers to `requests`, written at once on one connection, until it closes the connection. */
async function exchange(requests: string, instance = 0): Promise<string> {
  const { socket, closed } = await rawConnection(Number(new URL(instances[instance]!.url).port));
  socket.write(requests);
  return closed;
}

/** The access line an instance logged for `path`, once it has written it. */
async function accessLineOf(instance: number, path: string): Promise<Record<string, unknown>> {
  for (;;) {
    const lines = instances[instance]!.process.output().split('\n').filter((line) => line.startsWith('{'));
    const found = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.msg === 'request' && entry.path === path);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the event stream of a waiting BankID login, on two instances', () => {
  it('sends the status, a QR frame each second, and a final event with redirectTo that completes the login', async () => {
    const session = await startedLogin();
    const stream = streamOf(session, 0);
    const opened = await stream.opened;
    expect(opened.status).toBe(200);
    expect(opened.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(opened.headers['traceid']).toMatch(/^[0-9a-f]{16}$/);
    expect(opened.headers['content-security-policy']).toContain("script-src 'self'");
    expect(opened.headers['cache-control']).toBe('no-store, no-transform');
    expect(opened.headers['x-content-type-options']).toBe('nosniff');
    // The stream's access line says what the browser got: a 200, not Koa's 404 of a response it never wrote.
    expect(await accessLineOf(0, `/interaction/${session.uid}/api/events`)).toMatchObject({ method: 'GET', status: 200 });
    expect(JSON.parse((await stream.next('status')).data)).toMatchObject({ status: 'IN_PROGRESS', hintCode: 'outstandingTransaction' });
    const first = await stream.next('qr');
    const later = await stream.next('qr', (frame) => Number(frame.id) > Number(first.id));
    expect(later.data).not.toBe(first.data);
    expect(later.data).toMatch(/^bankid\.[\w-]+\.\d+\.[0-9a-f]{64}$/);

    simulator.scanQr(later.data);
    expect(JSON.parse((await stream.next('status', (event) => event.data.includes('"userSign"'))).data)).toMatchObject({ hintCode: 'userSign' });
    simulator.approve(session.orderRef(), 0);
    const done = JSON.parse((await stream.next('done')).data) as { status: string; redirectTo: string };
    expect(done.status).toBe('COMPLETE');
    await stream.closedByBroker();
    const tokens = await rp.redeem(await session.backToClient(done.redirectTo));
    expect(tokens.claims()).toMatchObject({ acr: OTHER, personal_number: simulatedPersons[0]!.personalNumber });
  });

  it('gives a stream asked of an instance with a copy of a login that ended on the other its way back, and once the browser is back at the client refuses it, as the poll does', async () => {
    const session = await startedLogin();
    // A stream on the second instance: it keeps a copy of the interaction for a while.
    const early = streamOf(session, 1);
    await early.next('status');
    early.close();
    const stream = streamOf(session, 0);
    simulator.scanQr((await stream.next('qr')).data);
    simulator.approve(session.orderRef(), 0);
    const done = JSON.parse((await stream.next('done')).data) as { redirectTo: string };
    // Before the browser is back at the client, a stream on the second instance is told the same way back.
    const between = streamOf(session, 1);
    expect(JSON.parse((await between.next('done')).data)).toMatchObject({ status: 'COMPLETE', redirectTo: done.redirectTo });
    await between.closedByBroker();
    await rp.redeem(await session.backToClient(done.redirectTo));
    // The return to the client took the login's begun mark: the copy on the second instance is not enough.
    const late = await streamOf(session, 1).opened;
    expect(late.status).toBe(400);
    expect(late.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(late.body)).toMatchObject({ error: 'session_expired' });
    const polled = await session.call('poll?qr=true');
    expect(polled.status).toBe(400);
    expect(polled.body).toMatchObject({ error: 'session_expired' });
  });

  it('sends a QR frame each second to a stream opened on an order the instance held only for polls', async () => {
    const session = await startedLogin();
    // Polls through the balancer reach both instances: each then holds the order, for polls alone.
    for (let poll = 0; poll < 4; poll += 1) expect((await session.call('poll?qr=true')).status).toBe(200);
    const streams = [0, 1].map((instance) => streamOf(session, instance));
    for (const stream of streams) {
      const first = await stream.next('qr');
      const later = await stream.next('qr', (frame) => Number(frame.id) > Number(first.id));
      expect(later.data).toMatch(/^bankid\.[\w-]+\.\d+\.[0-9a-f]{64}$/);
      stream.close();
    }
  });

  it('collects each order at most once per poll_frequency with 10 streams open on one login across both instances', async () => {
    const session = await startedLogin();
    const orderRef = session.orderRef();
    const before = simulator.callCount('collect', orderRef);
    const started = Date.now();
    const streams = Array.from({ length: 10 }, (_, i) => streamOf(session, i % 2));
    // Four streams per login and instance at most: the rest are refused.
    const statuses = await Promise.all(streams.map(async (stream) => (await stream.opened).status));
    expect(statuses.filter((status) => status === 200).length).toBe(8);
    expect(statuses.filter((status) => status === 429).length).toBe(2);
    const open = streams.filter((_, i) => statuses[i] === 200);
    await Promise.all(open.map((stream) => stream.next('qr', (frame) => Number(frame.id) >= 3)));
    const collects = simulator.callCount('collect', orderRef) - before;
    const elapsedSeconds = (Date.now() - started) / 1000;
    // poll_frequency is 1 s: one collect a second, whoever holds the lease, plus one at the start.
    expect(collects).toBeLessThanOrEqual(Math.floor(elapsedSeconds) + 1);
    expect(collects).toBeGreaterThanOrEqual(2);
    // A change found by a collect on one instance reaches the streams on the other at once.
    simulator.scanQr(open[0]!.events.filter((event) => event.event === 'qr').at(-1)!.data);
    await Promise.all(open.map((stream) => stream.next('status', (event) => event.data.includes('"userSign"'))));
    for (const stream of streams) stream.close();
  });

  it('collects at most once per poll_frequency with streams and polls of one login on both instances, and refuses a poll from another browser', async () => {
    const session = await startedLogin();
    const orderRef = session.orderRef();
    const before = simulator.callCount('collect', orderRef);
    const started = Date.now();
    const streams = [0, 1, 0, 1].map((instance) => streamOf(session, instance));
    expect((await Promise.all(streams.map(async (stream) => (await stream.opened).status))).every((status) => status === 200)).toBe(true);
    // Polls through the balancer reach both instances; each answers them from the order it holds.
    const polls: number[] = [];
    while (Date.now() - started < 3_200) {
      const answers = await Promise.all(Array.from({ length: 4 }, () => session.call('poll?qr=true')));
      polls.push(...answers.map((answer) => answer.status));
      for (const answer of answers.filter((candidate) => candidate.status === 200)) expect(answer.body).toMatchObject({ status: 'IN_PROGRESS' });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const collects = simulator.callCount('collect', orderRef) - before;
    const elapsedSeconds = (Date.now() - started) / 1000;
    expect(polls.every((status) => status === 200 || status === 429)).toBe(true);
    expect(polls.filter((status) => status === 200).length).toBeGreaterThan(10);
    // poll_frequency is 1 s: one collect a second, whoever holds the lease, plus one at the start.
    expect(collects).toBeLessThanOrEqual(Math.floor(elapsedSeconds) + 1);
    expect(collects).toBeGreaterThanOrEqual(2);

    // Both instances now hold the order and their copy of the interaction: another browser is still refused.
    const stranger = await RelyingParty.discover(balancer.url, webClient);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const foreign = await stranger.browser.request(`/interaction/${session.uid}/api/poll?qr=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', origin: balancer.url },
        body: '{}',
      });
      expect(foreign.status).toBe(400);
      expect(await foreign.json()).toMatchObject({ error: 'session_expired' });
    }

    // A change found by either instance reaches the polls at once, and the login completes by a poll.
    simulator.scanQr(streams[0]!.events.filter((event) => event.event === 'qr').at(-1)!.data);
    simulator.approve(orderRef, 0);
    for (const stream of streams) stream.close();
    const done = await session.pollUntil((state) => state.status === 'COMPLETE');
    const tokens = await rp.redeem(await session.backToClient(done.redirectTo!));
    expect(tokens.claims()).toMatchObject({ acr: OTHER, personal_number: simulatedPersons[0]!.personalNumber });
  });

  it('refuses a stream for a login with no eID started, for another browser, and for an eID that sends no events', async () => {
    const { response } = await rp.authorize({});
    const uid = new URL(response.url).pathname.split('/')[2]!;
    const path = `/interaction/${uid}/api/events`;
    const open = (browser = rp.browser) => new EventStreamReader(browser, balancer.url, path, instances[0]!.url).opened;

    const notStarted = await open();
    expect(notStarted.status).toBe(409);
    expect(JSON.parse(notStarted.body)).toMatchObject({ error: 'invalid_request' });

    const stranger = await RelyingParty.discover(balancer.url, webClient);
    const foreign = await open(stranger.browser);
    expect(foreign.status).toBe(400);
    expect(JSON.parse(foreign.body)).toMatchObject({ error: 'session_expired' });

    const started = await rp.browser.request(`/interaction/${uid}/api/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', origin: balancer.url },
      body: JSON.stringify({ eid: 'no-bankid' }),
    });
    expect(((await started.json()) as { redirectTo?: string }).redirectTo).toBeTruthy();
    const upstream = await open();
    expect(upstream.status).toBe(400);
    expect(JSON.parse(upstream.body)).toMatchObject({ error: 'invalid_request' });
  });

  it('answers HEAD with the headers of a stream and no body, and closes', async () => {
    const session = await startedLogin();
    const answer = await exchange(rawRequest(session, 'HEAD', 'events'));
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/\r\ncontent-type: text\/event-stream; charset=utf-8\r\n/i);
    expect(answer.endsWith('\r\n\r\n')).toBe(true);
  });

  it('refuses a stream on a connection that carries another request, which is then answered as usual', async () => {
    const session = await startedLogin();
    // Pipelined: no browser sends a stream so, but any client may.
    const answer = await exchange(rawRequest(session, 'GET', 'events') + rawRequest(session, 'POST', 'poll', '{}'));
    const [refused = '', polled = ''] = answer.split(/(?=HTTP\/1\.1 \d{3} )/);
    expect(refused).toMatch(/^HTTP\/1\.1 400 /);
    expect(refused).toContain('"error":"invalid_request"');
    expect(polled).toMatch(/^HTTP\/1\.1 200 /);
    expect(polled).toContain('"status":"IN_PROGRESS"');
  });

  it('tells a stream that reconnects to the other instance that the person cancelled on the phone meanwhile, as the poll does', async () => {
    const session = await startedLogin();
    const orderRef = session.orderRef();
    const first = streamOf(session, 0);
    simulator.scanQr((await first.next('qr')).data);
    await first.next('status', (event) => event.data.includes('"userSign"'));
    // The browser loses its stream; the person cancels in the app before it reconnects, elsewhere.
    first.close();
    simulator.userCancel(orderRef);
    const second = streamOf(session, 1);
    const shown = await second.next('status', (event) => !event.data.includes('"userSign"'));
    const cancelled = { status: 'CANCEL', hintCode: 'userCancel', messageCode: 'RFA6', retry: true };
    expect(JSON.parse(shown.data)).toMatchObject(cancelled);
    const polled = await session.call('poll');
    expect(polled.status).toBe(200);
    expect(polled.body).toMatchObject(cancelled);
  });

  it('a cancel in one tab sends the pages of the others back to the picker, whichever instance they ask: none is told to start again', async () => {
    // Without acr_values the login has a picker (BankID and Norwegian BankID): a cancel on BankID's page leads there.
    const { response } = await rp.authorize({});
    const session = new BankIdSession({ simulator, rp, tb: { issuer: balancer.url } as TestBroker }, 'se-bankid', new URL(response.url).pathname.split('/')[2]!);
    expect((await session.start('other')).status).toBe('IN_PROGRESS');
    const poll = (instance: number) => exchange(rawRequest(session, 'POST', 'poll?qr=true&eid=se-bankid', '{}'), instance);
    // Both instances answer the login's polls, and keep a copy of its started eID for the next.
    for (const instance of [0, 1]) expect(await poll(instance)).toMatch(/^HTTP\/1\.1 200 /);
    const streams = [0, 1].map((instance) => streamOf(session, instance));
    await Promise.all(streams.map((stream) => stream.next('status')));
    // BankID is slow to confirm the cancel: the order is gone from the store long before the cancel is answered.
    simulator.injectFault('cancel', { delayMs: 1_500 });
    const cancelled = exchange(rawRequest(session, 'POST', 'cancel', '{}'), 1);
    // The pages hear the order is gone, and ask where the login stands: it is back at the picker.
    await Promise.all(streams.map((stream) => stream.next('end')));
    for (const instance of [0, 1]) {
      const answer = await poll(instance);
      expect(answer, `instance ${instance}`).toMatch(/^HTTP\/1\.1 409 /);
      expect(answer).toContain('"error":"invalid_request"');
    }
    expect(await cancelled).toContain(`"redirectTo":"${balancer.url}/interaction/${session.uid}/"`);
    const picker = await rp.browser.request(`/interaction/${session.uid}/api/ui`, { headers: { accept: 'application/json' } });
    expect(await picker.json()).toMatchObject({ notice: { eid: 'se-bankid', reason: 'cancelled' } });
  });

  it('a login whose stream and collect lease were on an instance that died completes on the other one, for a stream waiting there and for the browser that reconnects', async () => {
    const session = await startedLogin();
    const orderRef = session.orderRef();
    const first = streamOf(session, 0);
    await first.next('qr');
    // Instance 0 alone waits on the order, so the next collect is its own: it holds the order's
    // lease for a poll_frequency from then on. A stream opened on instance 1 meanwhile finds the
    // lease taken, and waits for a dead instance's lease to lapse.
    const collected = simulator.callCount('collect', orderRef);
    while (simulator.callCount('collect', orderRef) === collected) await new Promise((resolve) => setTimeout(resolve, 10));
    const waiting = streamOf(session, 1);
    await waiting.next('status');
    instances[0]!.process.child.kill('SIGKILL');
    await first.closedByBroker();
    balancer.markDown(0);

    // The browser reconnects; the balancer now sends it to the instance that is left.
    const second = streamOf(session, 1);
    const frame = await second.next('qr');
    simulator.scanQr(frame.data);
    // Only a collect by instance 1 finds the scan: both its streams show it.
    for (const stream of [waiting, second]) await stream.next('status', (event) => event.data.includes('"userSign"'));
    simulator.approve(orderRef, 0);
    const [done] = await Promise.all([waiting, second].map(async (stream) => JSON.parse((await stream.next('done')).data) as { status: string; redirectTo: string }));
    expect(done!.status).toBe('COMPLETE');
    const tokens = await rp.redeem(await session.backToClient(done!.redirectTo));
    expect(tokens.claims()).toMatchObject({ acr: OTHER });
  });

  it('ends its streams when an instance is told to stop, which then exits without cutting anything', async () => {
    const session = await startedLogin();
    const stream = streamOf(session, 1);
    await stream.next('qr');
    const { process: instance } = instances[1]!;
    instance.child.kill('SIGTERM');
    await stream.closedByBroker();
    const { code } = await instance.exited();
    expect(code).toBe(0);
    expect(instance.output()).not.toContain('were cut');
  });
});
