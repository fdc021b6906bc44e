import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { sweden } from '../../countries/se.js';
import { qrPayload } from '../qr.js';
import { createTestPki, createUntrustedClientCertificate, type TestPki } from '../simulator/certificates.js';
import type { CompletionData } from '../simulator/completion.js';
import type { CollectResponse, OrderResponse } from '../simulator/orders.js';
import { simulatedPersons } from '../simulator/persons.js';
import {
  SimulatorError,
  startBankIdSimulator,
  type BankIdSimulator,
  type SimulatedOrderView,
} from '../simulator/server.js';

interface RpError {
  errorCode: string;
  details: string;
}

interface Answer<T> {
  status: number;
  body: T;
}

interface CallOptions {
  method?: Dispatcher.HttpMethod;
  contentType?: string;
  target?: BankIdSimulator;
  dispatcher?: Agent;
}

const END_USER_IP = '192.0.2.10';
const base64 = (text: string) => Buffer.from(text).toString('base64');

let pki: TestPki;
let agent: Agent;
let simulator: BankIdSimulator;
const extraSimulators: BankIdSimulator[] = [];

beforeAll(async () => {
  pki = await createTestPki();
  agent = new Agent({ connect: { ca: pki.serverCa, cert: pki.client.cert, key: pki.client.key } });
  simulator = await startBankIdSimulator({ pki });
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  await Promise.all([simulator, ...extraSimulators].map((running) => running.close()));
  await agent.close();
});

/** A simulator of its own, for tests that need other timings or must not disturb the shared one. */
async function startExtraSimulator(options: { pickupTimeoutSeconds?: number; orderLifetimeSeconds?: number } = {}) {
  const started = await startBankIdSimulator({ pki, ...options });
  extraSimulators.push(started);
  return started;
}

async function rp<T = RpError>(endpoint: string, body?: unknown, options: CallOptions = {}): Promise<Answer<T>> {
  const response = await request(`${(options.target ?? simulator).apiUrl}/${endpoint}`, {
    method: options.method ?? 'POST',
    dispatcher: options.dispatcher ?? agent,
    headers: { 'content-type': options.contentType ?? 'application/json' },
    body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.statusCode, body: (await response.body.json()) as T };
}

async function startOrder(fields: Record<string, unknown> = {}, target?: BankIdSimulator, kind = 'auth') {
  const { status, body } = await rp<OrderResponse>(kind, { endUserIp: END_USER_IP, ...fields }, { target });
  expect(status).toBe(200);
  return body;
}

async function collect(orderRef: string, target?: BankIdSimulator): Promise<CollectResponse> {
  const { status, body } = await rp<CollectResponse>('collect', { orderRef }, { target });
  expect(status).toBe(200);
  return body;
}

/** Status and hint of the next collect, as `pending/userSign`. */
async function collectedState(orderRef: string, target?: BankIdSimulator): Promise<string> {
  const answer = await collect(orderRef, target);
  return 'hintCode' in answer ? `${answer.status}/${answer.hintCode}` : answer.status;
}

async function completion(orderRef: string): Promise<CompletionData> {
  const answer = await collect(orderRef);
  if (answer.status !== 'complete') throw new Error(`order is ${answer.status}`);
  return answer.completionData;
}

/** The frame the service would show right after the order was created. */
function firstQrFrame(order: OrderResponse): string {
  return qrPayload(order.qrStartToken, order.qrStartSecret, 0);
}

async function control(path: string, body?: unknown) {
  const response = await request(`${simulator.controlUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
}

async function appGet(pathAndQuery = '/app') {
  const response = await request(`${simulator.controlUrl}${pathAndQuery}`);
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

async function appPost(path: string, fields: Record<string, string>) {
  const response = await request(`${simulator.controlUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.statusCode, location: response.headers.location as string | undefined, text: await response.body.text() };
}

/** Makes the simulator's clock read this many seconds later, leaving real timers alone. */
function advanceClock(seconds: number): void {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + seconds * 1000 });
}

describe('transport', () => {
  it('serves the API under /rp/v6.0 without a trailing slash', () => {
    expect(simulator.apiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/rp\/v6\.0$/);
    expect(simulator.appUrl).toBe(`${simulator.controlUrl}/app`);
  });

  it('answers a GET with 405 methodNotAllowed, the usual connectivity check', async () => {
    const { status, body } = await rp('auth', undefined, { method: 'GET' });
    expect(status).toBe(405);
    expect(body.errorCode).toBe('methodNotAllowed');
    expect(body.details).toEqual(expect.any(String));
  });

  it('refuses a charset parameter with 415 unsupportedMediaType', async () => {
    const { status, body } = await rp('auth', { endUserIp: END_USER_IP }, { contentType: 'application/json; charset=utf-8' });
    expect(status).toBe(415);
    expect(body.errorCode).toBe('unsupportedMediaType');
  });

  it.each(['phone/other', 'auth/extra'])('answers /%s with 404 notFound', async (endpoint) => {
    const { status, body } = await rp(endpoint, { endUserIp: END_USER_IP });
    expect(status).toBe(404);
    expect(body.errorCode).toBe('notFound');
  });

  it.each([
    ['not JSON', '{endUserIp:'],
    ['a JSON array', '[]'],
    ['a JSON string', '"hello"'],
    ['empty', ''],
  ])('refuses a body that is %s with 400 invalidParameters', async (_, body) => {
    const answer = await rp('auth', body);
    expect(answer.status).toBe(400);
    expect(answer.body.errorCode).toBe('invalidParameters');
  });

  it('is reachable as localhost too, which the server certificate names', async () => {
    const response = await request(simulator.apiUrl.replace('127.0.0.1', 'localhost') + '/collect', {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderRef: 'none' }),
    });
    expect(response.statusCode).toBe(400);
    await response.body.dump();
  });

  /** A refused handshake surfaces as a closed socket, and the request never reaches the API. */
  async function expectRefusedHandshake(connect: Agent.Options['connect']) {
    const client = new Agent({ connect });
    const callsBefore = simulator.callCount('auth');
    await expect(rp('auth', { endUserIp: END_USER_IP }, { dispatcher: client })).rejects.toThrow();
    expect(simulator.callCount('auth')).toBe(callsBefore);
    await client.close();
  }

  it('refuses a client without a certificate at the TLS handshake', async () => {
    await expectRefusedHandshake({ ca: pki.serverCa });
  });

  it('refuses a client certificate from a CA it does not trust', async () => {
    const stranger = await createUntrustedClientCertificate();
    await expectRefusedHandshake({ ca: pki.serverCa, cert: stranger.cert, key: stranger.key });
  });
});

describe('request validation', () => {
  it('starts an order with every optional field set, answering with four UUIDs', async () => {
    const order = await startOrder({
      requirement: { pinCode: true, mrtd: false, cardReader: 'class1', certificatePolicies: ['1.2.3.4.25'], personalNumber: '196402291485' },
      userVisibleData: base64('Log in to Example'),
      userNonVisibleData: base64('nonce'),
      userVisibleDataFormat: 'simpleMarkdownV1',
      returnUrl: 'https://rp.example/return#nonce',
      returnRisk: true,
      web: { referringDomain: 'rp.example', userAgent: 'Mozilla/5.0', deviceIdentifier: 'device-1' },
    });
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    expect(order).toEqual({
      orderRef: expect.stringMatching(uuid),
      autoStartToken: expect.stringMatching(uuid),
      qrStartToken: expect.stringMatching(uuid),
      qrStartSecret: expect.stringMatching(uuid),
    });
  });

  it('accepts an IPv6 endUserIp and app data for a native app', async () => {
    await startOrder({ endUserIp: '2001:db8::1', app: { appIdentifier: 'se.example.app', deviceOS: 'iOS 18' } });
  });

  it('accepts a sign order with userVisibleData', async () => {
    await startOrder({ userVisibleData: base64('I agree') }, undefined, 'sign');
  });

  const long = (length: number) => 'x'.repeat(length);
  it.each([
    ['auth', 'endUserIp is missing', {}, /endUserIp is required/],
    ['auth', 'endUserIp is not an address', { endUserIp: 'localhost' }, /endUserIp/],
    ['sign', 'userVisibleData is missing', { endUserIp: END_USER_IP }, /userVisibleData is required/],
    ['sign', 'userVisibleData is not base64', { endUserIp: END_USER_IP, userVisibleData: 'I agree!' }, /userVisibleData/],
    ['auth', 'userNonVisibleData is not base64', { endUserIp: END_USER_IP, userNonVisibleData: 'a b' }, /userNonVisibleData/],
    ['auth', 'returnUrl is empty', { endUserIp: END_USER_IP, returnUrl: '' }, /returnUrl/],
    ['auth', 'returnUrl is over 512 characters', { endUserIp: END_USER_IP, returnUrl: long(513) }, /returnUrl/],
    ['auth', 'both web and app are given', { endUserIp: END_USER_IP, web: {}, app: {} }, /web and app/],
    ['auth', 'web.userAgent is over 256 characters', { endUserIp: END_USER_IP, web: { userAgent: long(257) } }, /web\.userAgent/],
    ['auth', 'web.deviceIdentifier is over 64 characters', { endUserIp: END_USER_IP, web: { deviceIdentifier: long(65) } }, /web\.deviceIdentifier/],
    ['auth', 'requirement.pinCode is not boolean', { endUserIp: END_USER_IP, requirement: { pinCode: 'yes' } }, /requirement\.pinCode/],
    ['auth', 'requirement.mrtd is not boolean', { endUserIp: END_USER_IP, requirement: { mrtd: 1 } }, /requirement\.mrtd/],
    ['auth', 'requirement.cardReader is unknown', { endUserIp: END_USER_IP, requirement: { cardReader: 'class3' } }, /requirement\.cardReader/],
    ['auth', 'requirement.certificatePolicies is not a list', { endUserIp: END_USER_IP, requirement: { certificatePolicies: '1.2.3.4.25' } }, /certificatePolicies/],
    ['auth', 'requirement.certificatePolicies holds a number', { endUserIp: END_USER_IP, requirement: { certificatePolicies: [1] } }, /certificatePolicies/],
    ['auth', 'requirement.personalNumber is not 12 digits', { endUserIp: END_USER_IP, requirement: { personalNumber: '19850312-2437' } }, /personalNumber/],
    ['auth', 'requirement is not an object', { endUserIp: END_USER_IP, requirement: 'strict' }, /requirement/],
    ['payment', 'userVisibleTransaction is missing', { endUserIp: END_USER_IP }, /userVisibleTransaction is required/],
    ['payment', 'transactionType is unknown', { endUserIp: END_USER_IP, userVisibleTransaction: { transactionType: 'cash', recipient: { name: 'A' } } }, /userVisibleTransaction\.transactionType/],
    ['payment', 'the recipient has no name', { endUserIp: END_USER_IP, userVisibleTransaction: { transactionType: 'card', recipient: {} } }, /userVisibleTransaction\.recipient\.name is required/],
    ['payment', 'an npa transaction has money', { endUserIp: END_USER_IP, userVisibleTransaction: { transactionType: 'npa', recipient: { name: 'A' }, money: { amount: '1', currency: 'SEK' } } }, /money is only allowed when transactionType is card/],
    ['payment', 'the amount has a decimal point', { endUserIp: END_USER_IP, userVisibleTransaction: { transactionType: 'card', recipient: { name: 'A' }, money: { amount: '10.50', currency: 'SEK' } } }, /money\.amount/],
    ['payment', 'a risk flag is unknown', { endUserIp: END_USER_IP, userVisibleTransaction: { transactionType: 'card', recipient: { name: 'A' } }, riskFlags: ['lucky'] }, /riskFlags/],
    ['collect', 'orderRef is missing', {}, /orderRef is required/],
    ['collect', 'orderRef is unknown', { orderRef: '5ab1f1c4-0000-4000-8000-000000000000' }, /No order/],
    ['cancel', 'orderRef is unknown', { orderRef: '5ab1f1c4-0000-4000-8000-000000000000' }, /No order/],
  ])('%s: 400 invalidParameters when %s', async (endpoint, _, body, details) => {
    const answer = await rp(endpoint, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ errorCode: 'invalidParameters', details: expect.stringMatching(details) });
  });
});

describe('test persons', () => {
  it('all have valid Swedish personal numbers and a name made of the given name and surname', () => {
    expect(simulatedPersons.length).toBeGreaterThanOrEqual(4);
    for (const person of simulatedPersons) {
      expect(sweden.personalNumbers.isValid(person.personalNumber), person.personalNumber).toBe(true);
      expect(person.name).toBe(`${person.givenName} ${person.surname}`);
      expect(person.bankIdIssueDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  it('include names in capitals and a coordination number', () => {
    expect(simulatedPersons.some((person) => person.name === person.name.toUpperCase())).toBe(true);
    expect(simulatedPersons.some((person) => Number(person.personalNumber.slice(6, 8)) > 60)).toBe(true);
  });
});

describe('QR code pickup', () => {
  it('builds frames the way BankID’s published test vectors say', () => {
    const token = '67df3917-fa0d-44e5-b327-edcc928297f8';
    const secret = 'd28db9a7-4cde-429e-a983-359be676944c';
    expect(qrPayload(token, secret, 0)).toBe(`bankid.${token}.0.dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8`);
    expect(qrPayload(token, secret, 1)).toBe(`bankid.${token}.1.949d559bf23403952a94d103e67743126381eda00f0b3cbddbf7c96b1adcbce2`);
    expect(qrPayload(token, secret, 2)).toBe(`bankid.${token}.2.a9e5ec59cb4eee4ef4117150abc58fad7a85439a6a96ccbecc3668b41795b3f3`);
  });

  it('accepts the current frame', async () => {
    const order = await startOrder();
    simulator.scanQr(firstQrFrame(order));
    expect(await collectedState(order.orderRef)).toBe('pending/userSign');
  });

  it('refuses a frame with a wrong authentication code', async () => {
    const order = await startOrder();
    const forged = firstQrFrame(order).replace(/[0-9a-f]{4}$/, (tail) => (tail === '0000' ? '1111' : '0000'));
    expect(() => simulator.scanQr(forged)).toThrow(/authentication code/);
    expect(await collectedState(order.orderRef)).toBe('pending/outstandingTransaction');
  });

  it('refuses a stale frame and a frame from the future, and accepts the frame of the moment', async () => {
    const order = await startOrder();
    expect(() => simulator.scanQr(qrPayload(order.qrStartToken, order.qrStartSecret, 9))).toThrow(/not current/);
    advanceClock(10);
    expect(() => simulator.scanQr(firstQrFrame(order))).toThrow(/not current/);
    simulator.scanQr(qrPayload(order.qrStartToken, order.qrStartSecret, 9));
    expect(simulator.orders().find((view) => view.orderRef === order.orderRef)?.pickedUp).toBe(true);
  });

  it('refuses text that is not a BankID QR code, an unknown order and a second scan', async () => {
    const order = await startOrder();
    expect(() => simulator.scanQr('https://example.com')).toThrow(/Not a BankID QR code/);
    expect(() => simulator.scanQr(qrPayload('11111111-2222-4333-8444-555555555555', 'secret', 0))).toThrow(/No order/);
    simulator.scanQr(firstQrFrame(order));
    expect(() => simulator.scanQr(firstQrFrame(order))).toThrow(/not waiting to be picked up/);
  });
});

describe('order lifecycle', () => {
  it('QR: outstandingTransaction, userSign, then complete, and the same answer on every later collect', async () => {
    const order = await startOrder();
    expect(await collectedState(order.orderRef)).toBe('pending/outstandingTransaction');
    simulator.scanQr(firstQrFrame(order));
    expect(await collectedState(order.orderRef)).toBe('pending/userSign');
    simulator.approve(order.orderRef);
    const first = await collect(order.orderRef);
    expect(first.status).toBe('complete');
    expect(await collect(order.orderRef)).toEqual(first);
  });

  it('autostart: outstandingTransaction, started, userSign, then complete', async () => {
    const order = await startOrder();
    expect(await collectedState(order.orderRef)).toBe('pending/outstandingTransaction');
    simulator.openAutoStart(order.autoStartToken);
    expect(simulator.orderByAutoStartToken(order.autoStartToken)).toBe(order.orderRef);
    expect(await collectedState(order.orderRef)).toBe('pending/started');
    expect(await collectedState(order.orderRef)).toBe('pending/userSign');
    simulator.approve(order.orderRef);
    expect(await collectedState(order.orderRef)).toBe('complete');
  });

  it('asks for the passport or ID card when the order requires MRTD, and reports the step-up', async () => {
    const order = await startOrder({ requirement: { mrtd: true } });
    simulator.scanQr(firstQrFrame(order));
    expect(await collectedState(order.orderRef)).toBe('pending/userMrtd');
    simulator.approve(order.orderRef);
    expect((await completion(order.orderRef)).stepUp).toEqual({ mrtd: true });
  });

  it('reports a failed MRTD check as stepUp.mrtd false, and no stepUp when MRTD was not required', async () => {
    const checked = await startOrder({ requirement: { mrtd: true } });
    const plain = await startOrder();
    for (const order of [checked, plain]) simulator.openAutoStart(order.autoStartToken);
    simulator.approve(checked.orderRef, 0, { mrtd: false });
    simulator.approve(plain.orderRef);
    expect((await completion(checked.orderRef)).stepUp).toEqual({ mrtd: false });
    expect(await completion(plain.orderRef)).not.toHaveProperty('stepUp');
  });

  it('completes with the chosen person, the order’s endUserIp and a signature naming the order', async () => {
    const order = await startOrder({ returnRisk: true });
    simulator.openAutoStart(order.autoStartToken);
    simulator.approve(order.orderRef, '197207043576');
    const data = await completion(order.orderRef);
    expect(data.user).toEqual({
      personalNumber: '197207043576',
      name: 'KARL-JOHAN ÅSTRÖM',
      givenName: 'KARL-JOHAN',
      surname: 'ÅSTRÖM',
    });
    expect(data.device).toEqual({ ipAddress: END_USER_IP, uhi: expect.any(String) });
    expect(data.bankIdIssueDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(data.risk).toBe('low');
    const signature = Buffer.from(data.signature, 'base64').toString('utf8');
    expect(signature).toContain(order.orderRef);
    expect(signature).toContain('197207043576');
    expect(Buffer.from(data.ocspResponse, 'base64').length).toBeGreaterThan(0);
  });

  it('gives the same person the same device id and sends no risk unless asked', async () => {
    const orders = [await startOrder(), await startOrder()];
    for (const order of orders) {
      simulator.openAutoStart(order.autoStartToken);
      simulator.approve(order.orderRef, 1);
    }
    const [first, second] = await Promise.all(orders.map((order) => completion(order.orderRef)));
    expect(first?.device.uhi).toBe(second?.device.uhi);
    expect(first).not.toHaveProperty('risk');
  });

  it('refuses to approve an order not yet picked up, an unknown person, or another person than required', async () => {
    const order = await startOrder({ requirement: { personalNumber: '199108674681' } });
    expect(() => simulator.approve(order.orderRef)).toThrow(/not been picked up/);
    simulator.openAutoStart(order.autoStartToken);
    expect(() => simulator.approve(order.orderRef, 99)).toThrow(/no test person/);
    expect(() => simulator.approve(order.orderRef, 0)).toThrow(/may only be completed by 199108674681/);
    simulator.approve(order.orderRef, '199108674681');
    expect((await completion(order.orderRef)).user.personalNumber).toBe('199108674681');
  });

  it('fails with userCancel when the person cancels in the app', async () => {
    const order = await startOrder();
    expect(() => simulator.userCancel(order.orderRef)).toThrow(SimulatorError);
    simulator.scanQr(firstQrFrame(order));
    simulator.userCancel(order.orderRef);
    expect(await collectedState(order.orderRef)).toBe('failed/userCancel');
    expect(() => simulator.approve(order.orderRef)).toThrow(/no longer pending|not been picked up/);
  });

  it('fails with expiredTransaction or a chosen hint when told to', async () => {
    const expired = await startOrder();
    const blocked = await startOrder();
    simulator.expire(expired.orderRef);
    simulator.fail(blocked.orderRef, 'transactionRiskBlocked');
    expect(await collectedState(expired.orderRef)).toBe('failed/expiredTransaction');
    expect(await collectedState(blocked.orderRef)).toBe('failed/transactionRiskBlocked');
  });

  it('fails with startFailed when nobody picks the order up in time', async () => {
    const impatient = await startExtraSimulator({ pickupTimeoutSeconds: 1 });
    const order = await startOrder({}, impatient);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await collectedState(order.orderRef, impatient)).toBe('failed/startFailed');
    expect(() => impatient.openAutoStart(order.autoStartToken)).toThrow(/not waiting to be picked up/);
  });

  it('fails with expiredTransaction when a picked-up order is not finished in time', async () => {
    const impatient = await startExtraSimulator({ orderLifetimeSeconds: 1 });
    const order = await startOrder({}, impatient);
    impatient.openAutoStart(order.autoStartToken);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await collectedState(order.orderRef, impatient)).toBe('failed/expiredTransaction');
  });

  it('forgets a complete order after 3 minutes and a failed one after 5', async () => {
    const complete = await startOrder();
    const failed = await startOrder();
    simulator.openAutoStart(complete.autoStartToken);
    simulator.approve(complete.orderRef);
    simulator.fail(failed.orderRef, 'certificateErr');
    advanceClock(4 * 60);
    expect((await rp('collect', { orderRef: complete.orderRef })).status).toBe(400);
    expect(await collectedState(failed.orderRef)).toBe('failed/certificateErr');
    advanceClock(6 * 60);
    expect((await rp('collect', { orderRef: failed.orderRef })).status).toBe(400);
  });
});

describe('cancel and alreadyInProgress', () => {
  it('cancels a pending order, after which it is unknown', async () => {
    const order = await startOrder();
    const cancelled = await rp<Record<string, never>>('cancel', { orderRef: order.orderRef });
    expect(cancelled).toEqual({ status: 200, body: {} });
    expect((await rp('collect', { orderRef: order.orderRef })).body.errorCode).toBe('invalidParameters');
    expect((await rp('cancel', { orderRef: order.orderRef })).status).toBe(400);
  });

  it('refuses to cancel a finished order', async () => {
    const order = await startOrder();
    simulator.expire(order.orderRef);
    const answer = await rp('cancel', { orderRef: order.orderRef });
    expect(answer.status).toBe(400);
    expect(answer.body.errorCode).toBe('invalidParameters');
  });

  it('refuses a second order for the same person with alreadyInProgress and cancels the first', async () => {
    const requirement = { personalNumber: '201105202566' };
    const first = await startOrder({ requirement });
    const second = await rp('auth', { endUserIp: END_USER_IP, requirement });
    expect(second.status).toBe(400);
    expect(second.body.errorCode).toBe('alreadyInProgress');
    expect(await collectedState(first.orderRef)).toBe('failed/cancelled');
    await startOrder({ requirement });
  });
});

describe('fault injection and traffic', () => {
  it('answers 503 maintenance once, then normally', async () => {
    simulator.injectFault('auth', { status: 503, errorCode: 'maintenance', details: 'Back soon' });
    const faulty = await rp('auth', { endUserIp: END_USER_IP });
    expect(faulty).toEqual({ status: 503, body: { errorCode: 'maintenance', details: 'Back soon' } });
    await startOrder();
  });

  it('serves a fault as many times as asked, even for a request that would be refused anyway', async () => {
    simulator.injectFault('collect', { status: 500, errorCode: 'internalError' }, 2);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      expect((await rp('collect', { orderRef: 'any' })).body.errorCode).toBe('internalError');
    }
    expect((await rp('collect', { orderRef: 'any' })).body.errorCode).toBe('invalidParameters');
  });

  it('delays an answer, then processes the request normally', async () => {
    const order = await startOrder();
    simulator.injectFault('collect', { delayMs: 300 });
    expect(await collectedState(order.orderRef)).toBe('pending/outstandingTransaction');
  });

  it('refuses a malformed fault', () => {
    expect(() => simulator.injectFault('phone' as 'auth', { delayMs: 1 })).toThrow(SimulatorError);
    expect(() => simulator.injectFault('auth', { status: 200, errorCode: 'ok' })).toThrow(SimulatorError);
    expect(() => simulator.injectFault('auth', { delayMs: 1 }, 0)).toThrow(SimulatorError);
  });

  it('counts requests per endpoint and per order, and keeps the last body', async () => {
    const order = await startOrder({ web: { userAgent: 'Firefox' }, returnUrl: 'https://rp.example/back' });
    expect(simulator.lastRequest('auth')).toEqual({
      endUserIp: END_USER_IP,
      web: { userAgent: 'Firefox' },
      returnUrl: 'https://rp.example/back',
    });
    const before = simulator.callCount('collect');
    for (let poll = 0; poll < 3; poll += 1) await collect(order.orderRef);
    expect(simulator.callCount('collect', order.orderRef)).toBe(3);
    expect(simulator.callCount('collect')).toBe(before + 3);
    expect(simulator.lastRequest('collect')).toEqual({ orderRef: order.orderRef });
  });

  it('closes while an answer is delayed, ending the open connection', async () => {
    const closing = await startExtraSimulator();
    closing.injectFault('collect', { delayMs: 60_000 });
    const pending = rp('collect', { orderRef: 'any' }, { target: closing });
    await vi.waitFor(() => expect(closing.callCount('collect')).toBe(1));
    await closing.close();
    await expect(pending).rejects.toThrow();
  });
});

describe('app page', () => {
  it('is a server-rendered page without inline script or style, with its stylesheet', async () => {
    const page = await appGet();
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.text).toContain('<title>Simulated BankID app</title>');
    expect(page.text).not.toMatch(/<script(?![^>]*\ssrc=)|\sstyle=|<style/);
    const stylesheet = await appGet('/app/style.css');
    expect(stylesheet.headers['content-type']).toMatch(/^text\/css/);
  });

  it('scans the QR code and identifies a person through its forms', async () => {
    const order = await startOrder();
    const waiting = await appGet();
    expect(waiting.text).toContain('Scan the QR code shown by the service');
    // A person choosing an ending must not have the page reload under them.
    expect(waiting.text).not.toContain('http-equiv="refresh"');

    expect(await appPost('/app/scan', { orderRef: order.orderRef })).toMatchObject({ status: 303, location: '/app' });
    expect(await collectedState(order.orderRef)).toBe('pending/userSign');
    expect((await appGet()).text).toContain('Identify as KARL-JOHAN ÅSTRÖM (197207043576)');

    const identified = await appPost('/app/identify', { orderRef: order.orderRef, person: '197207043576' });
    expect(identified.status).toBe(303);
    expect(identified.location).toBe(`/app?done=identified&orderRef=${order.orderRef}`);
    expect((await completion(order.orderRef)).user.name).toBe('KARL-JOHAN ÅSTRÖM');
    // Scanned on another device: the app has nowhere to send the person.
    const done = await appGet(identified.location);
    expect(done.text).toContain('Done. Go back to the service');
    expect(done.text).not.toContain('Back to the service</a>');
  });

  it.each([
    ['identify', { person: simulatedPersons[0]!.personalNumber }],
    ['cancel', {}],
    ['expire', {}],
    ['fail', { hintCode: 'certificateErr' }],
  ])('after %s, sends the person of a same-device order back to its returnUrl through its own origin', async (action, fields) => {
    const returnUrl = 'https://rp.example/return?nonce=a&b="c"';
    const order = await startOrder({ returnUrl });
    simulator.openAutoStart(order.autoStartToken);
    const ended = await appPost(`/app/${action}`, { orderRef: order.orderRef, ...fields });
    // A form may only go to the app's own origin (form-action 'self'): the way back is a page of its own.
    expect(ended.status).toBe(303);
    expect(ended.location).toMatch(/^\/app\?done=/);
    const back = await appGet(ended.location);
    expect(back.headers['content-security-policy']).toContain("form-action 'self'");
    expect(back.text).toContain('<meta http-equiv="refresh" content="0; url=https://rp.example/return?nonce=a&amp;b=&quot;c&quot;">');
    expect(back.text).toContain('<a class="button" href="https://rp.example/return?nonce=a&amp;b=&quot;c&quot;">Back to the service</a>');
  });

  it('offers every failure the simulator has: expire, each failed hint code, an error of the RP API', async () => {
    const [expiring, failing] = [await startOrder(), await startOrder()];
    const page = (await appGet()).text;
    expect(page).toContain('<form method="post" action="/app/expire">');
    for (const hintCode of ['expiredTransaction', 'certificateErr', 'userCancel', 'cancelled', 'startFailed', 'userDeclinedCall', 'notSupportedByUserApp', 'transactionRiskBlocked']) {
      expect(page).toContain(`<option value="${hintCode}">`);
    }
    expect(page).toContain('<a href="/app/faults">');

    expect((await appPost('/app/expire', { orderRef: expiring.orderRef })).status).toBe(303);
    expect(await collectedState(expiring.orderRef)).toBe('failed/expiredTransaction');
    expect((await appPost('/app/fail', { orderRef: failing.orderRef, hintCode: 'transactionRiskBlocked' })).status).toBe(303);
    expect(await collectedState(failing.orderRef)).toBe('failed/transactionRiskBlocked');

    const faults = (await appGet('/app/faults')).text;
    for (const option of ['auth', 'sign', 'collect', 'cancel', 'requestTimeout', 'internalError', 'maintenance', 'alreadyInProgress']) {
      expect(faults).toContain(`<option value="${option}">`);
    }
    const injected = await appPost('/app/fault', { endpoint: 'auth', errorCode: 'maintenance', times: '2' });
    expect(injected).toMatchObject({ status: 303, location: '/app?done=fault' });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      expect(await rp('auth', { endUserIp: END_USER_IP })).toMatchObject({ status: 503, body: { errorCode: 'maintenance' } });
    }
    await startOrder();
  });

  it.each([
    ['/app/fail', { hintCode: 'madeUp' }, 'hintCode must be one of expiredTransaction, certificateErr'],
    ['/app/fault', { endpoint: 'auth', errorCode: 'madeUp' }, 'errorCode must be one of alreadyInProgress'],
    ['/app/fault', { endpoint: 'phone', errorCode: 'maintenance' }, 'endpoint must be one of auth, sign, payment, phone/auth, phone/sign, collect, cancel'],
    ['/app/fault', { endpoint: 'auth', errorCode: 'maintenance', times: '21' }, 'times must be at most 20'],
    ['/app/fault', { endpoint: 'auth', errorCode: 'maintenance', times: 'many' }, 'times must be a whole number'],
  ])('refuses %s with %j on the page, in plain words', async (path, fields, message) => {
    const order = await startOrder();
    const refused = await appPost(path, { orderRef: order.orderRef, ...fields });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain(message);
    expect(await collectedState(order.orderRef)).toBe('pending/outstandingTransaction');
    await rp('cancel', { orderRef: order.orderRef });
  });

  it('opens an order from the launch link and cancels it', async () => {
    const order = await startOrder();
    const launched = await request(`${simulator.appUrl}?autostarttoken=${order.autoStartToken}`);
    expect(launched.statusCode).toBe(303);
    await launched.body.dump();
    expect(await collectedState(order.orderRef)).toBe('pending/started');
    expect((await appPost('/app/cancel', { orderRef: order.orderRef })).status).toBe(303);
    expect(await collectedState(order.orderRef)).toBe('failed/userCancel');
  });

  it('explains a refused action on the page', async () => {
    const used = await appGet('/app?autostarttoken=00000000-0000-4000-8000-000000000000');
    expect(used.status).toBe(400);
    expect(used.text).toContain('No order has this autostart token');
    const refused = await appPost('/app/identify', { orderRef: 'unknown' });
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('No order unknown');
  });

  it('escapes what the service asks the person to sign', async () => {
    const order = await startOrder({ userVisibleData: base64('<script>alert("hi")</script> & more') }, undefined, 'sign');
    simulator.openAutoStart(order.autoStartToken);
    const page = await appGet();
    expect(page.text).toContain('&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt; &amp; more');
    expect(page.text).not.toContain('<script>');
    simulator.userCancel(order.orderRef);
  });
});

describe('control API', () => {
  it('drives an order from scan to approval and lists it', async () => {
    const order = await startOrder();
    expect(await control('/control/scan', { qr: firstQrFrame(order) })).toEqual({ status: 200, body: {} });
    expect((await control('/control/approve', { orderRef: order.orderRef, person: 2 })).status).toBe(200);
    expect((await completion(order.orderRef)).user.givenName).toBe('Yasmin');
    const listed = (await control('/control/orders')).body as unknown as SimulatedOrderView[];
    expect(listed.find((view) => view.orderRef === order.orderRef)).toMatchObject({
      status: 'complete',
      kind: 'auth',
      pickedUp: true,
      qrPending: false,
      qrStartSecret: order.qrStartSecret,
    });
  });

  it('opens, cancels, expires and fails orders', async () => {
    const [opened, expired, failed] = [await startOrder(), await startOrder(), await startOrder()];
    expect((await control('/control/open', { autoStartToken: opened.autoStartToken })).status).toBe(200);
    expect((await control('/control/cancel', { orderRef: opened.orderRef })).status).toBe(200);
    expect((await control('/control/expire', { orderRef: expired.orderRef })).status).toBe(200);
    expect((await control('/control/fail', { orderRef: failed.orderRef, hintCode: 'certificateErr' })).status).toBe(200);
    expect(await collectedState(opened.orderRef)).toBe('failed/userCancel');
    expect(await collectedState(expired.orderRef)).toBe('failed/expiredTransaction');
    expect(await collectedState(failed.orderRef)).toBe('failed/certificateErr');
  });

  it('injects faults', async () => {
    const injected = await control('/control/fault', { endpoint: 'sign', fault: { status: 503, errorCode: 'maintenance' } });
    expect(injected.status).toBe(200);
    expect((await rp('sign', { endUserIp: END_USER_IP, userVisibleData: base64('x') })).status).toBe(503);
  });

  it('answers a refused action with 400 and a plain message', async () => {
    expect(await control('/control/scan', { qr: 'bankid.nothing' })).toEqual({
      status: 400,
      body: { error: expect.stringContaining('Not a BankID QR code') },
    });
    expect((await control('/control/approve', { person: 0 })).body.error).toMatch(/orderRef/);
    expect((await control('/control/fault', { endpoint: 'auth', fault: 'boom' })).status).toBe(400);
    expect((await control('/control/nothing', {})).status).toBe(404);
  });
});

describe('phone API', () => {
  const person = simulatedPersons[2]!;
  const phone = (kind: 'auth' | 'sign', fields: Record<string, unknown> = {}) =>
    rp<{ orderRef: string } & RpError>(`phone/${kind}`, { personalNumber: person.personalNumber, callInitiator: 'user', ...fields });

  it('answers with the orderRef alone, and the order waits for the person to confirm the call', async () => {
    const { status, body } = await phone('auth', { userVisibleData: base64('Samtal med banken') });
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['orderRef']);
    expect(await collectedState(body.orderRef)).toBe('pending/userCallConfirm');
    expect(() => simulator.approve(body.orderRef)).toThrow(/confirm the call first/);
    expect((await control('/control/confirm-call', { orderRef: body.orderRef })).status).toBe(200);
    expect(await collectedState(body.orderRef)).toBe('pending/userSign');
    simulator.approve(body.orderRef);
    const done = await collect(body.orderRef);
    expect(done.status === 'complete' && done.completionData.user.personalNumber).toBe(person.personalNumber);
  });

  it('fails with userDeclinedCall when the person says they are not in a call', async () => {
    const { body } = await phone('sign', { userVisibleData: base64('Jag godkänner avtalet') });
    expect((await control('/control/decline-call', { orderRef: body.orderRef })).status).toBe(200);
    expect(await collectedState(body.orderRef)).toBe('failed/userDeclinedCall');
    expect((await control('/control/confirm-call', { orderRef: body.orderRef })).body.error).toMatch(/not waiting for the person to confirm the call/);
  });

  it.each([
    ['auth', { personalNumber: undefined }, 'personalNumber is required'],
    ['auth', { personalNumber: '8503122437' }, 'personalNumber must be 12 digits'],
    ['auth', { callInitiator: undefined }, 'callInitiator is required'],
    ['auth', { callInitiator: 'rp' }, 'callInitiator must be one of user, RP'],
    ['auth', { userVisibleData: base64('x'.repeat(1_200)) }, 'userVisibleData must be base64 of 1 to 1500 characters'],
    ['sign', {}, 'userVisibleData is required'],
  ] as const)('/phone/%s refuses %j with invalidParameters', async (kind, fields, details) => {
    const { status, body } = await phone(kind, fields);
    expect(status).toBe(400);
    expect(body).toEqual({ errorCode: 'invalidParameters', details });
  });

  it('plays the call on the app page: the question by who called, then yes or no', async () => {
    const { body } = await phone('auth', { callInitiator: 'RP' });
    const page = await appGet();
    expect(page.text).toContain('Has the service called you, and are you in that call now?');
    expect((await appPost('/app/decline-call', { orderRef: body.orderRef })).status).toBe(303);
    expect(await collectedState(body.orderRef)).toBe('failed/userDeclinedCall');
  });
});
