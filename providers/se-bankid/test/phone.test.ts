import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../../../test/support/broker.js';
import { auditStream, everythingReadable } from '../../../test/support/ops.js';
import { ADMIN_TOKEN, createClient } from '../../../test/integration/admin-support.js';
import { createTestPki, type TestPki } from '../simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator, type SimulatedOrderView } from '../simulator/server.js';
import { simulatedPersons } from '../simulator/persons.js';
import { bankIdSection } from './support.js';
import { clearOfWindowEnd, LONG_WINDOW } from '../../../test/support/rate-windows.js';
import { Redis } from 'ioredis';
import { redisUrl } from '../../../test/support/redis.js';
import { everythingStored, keysHolding } from '../../../test/support/stored-in-redis.js';

/** A call centre's backend: a confidential client registered for CIBA in poll mode. */
const callCentre = {
  client_id: 'call-centre',
  client_secret: 'a-call-centre-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://callcentre.example/callback'],
  backchannel_token_delivery_mode: 'poll' as const,
  authorization_details_types: ['sign', 'payment', 'login_message'],
};

const PERSON = simulatedPersons[0]!;
const PHONE_ACR = 'urn:nordic-eid:se:bankid:phone';

let simulator: BankIdSimulator;
let tb: TestBroker;
let backend: client.Configuration;
let webApp: client.Configuration;

const discoverAt = (at: TestBroker, registration: { client_id: string; client_secret: string }) =>
  client.discovery(new URL(at.issuer), registration.client_id, undefined, client.ClientSecretBasic(registration.client_secret), {
    execute: [client.allowInsecureRequests],
  });
const discover = (registration: { client_id: string; client_secret: string }) => discoverAt(tb, registration);

let pki: TestPki;

beforeAll(async () => {
  pki = await createTestPki();
  simulator = await startBankIdSimulator({ pki });
  tb = await startTestBroker(
    {
      clients: [webClient, callCentre],
      eids: { 'se-bankid': bankIdSection(simulator, pki) },
      // This file's tests ask the same person many times; the bound per person has tests of its own.
      ciba: { interval: 1, per_person: { requests: 100 } },
      admin: { token: ADMIN_TOKEN },
      registration: { enabled: true, initial_access_token: false },
    },
    'bankid-phone',
  );
  [backend, webApp] = await Promise.all([discover(callCentre), discover(webClient)]);
  return () => simulator.close();
});

/** The simulator's newest phone order, once the broker has started one. */
async function phoneOrder(after: number): Promise<SimulatedOrderView> {
  for (let i = 0; i < 80; i += 1) {
    const order = simulator.orders().filter((candidate) => candidate.kind.startsWith('phone/')).at(after);
    if (order) return order;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no phone order reached the simulator');
}

const phoneOrders = () => simulator.orders().filter((order) => order.kind.startsWith('phone/')).length;
const phoneCalls = () => simulator.callCount('phone/auth') + simulator.callCount('phone/sign');

/** Starts a backchannel request and returns it with the order it made at BankID. */
async function ask(parameters: Record<string, string>) {
  const before = phoneOrders();
  const response = await client.initiateBackchannelAuthentication(backend, {
    scope: 'openid profile personal_number',
    login_hint: PERSON.personalNumber,
    call_initiator: 'RP',
    ...parameters,
  });
  return { response, order: await phoneOrder(before) };
}

/** What the broker answers a refused request: the OIDC error, and whether it reached BankID. */
async function refusal(configuration: client.Configuration, parameters: Record<string, string>) {
  const callsBefore = phoneCalls();
  const error = await client.initiateBackchannelAuthentication(configuration, parameters).then(
    () => undefined,
    (err: unknown) => err as { error?: string; error_description?: string; status?: number },
  );
  return { error: error?.error, description: error?.error_description, status: error?.status, sentToBankId: phoneCalls() > callsBefore };
}

async function pollError(response: client.BackchannelAuthenticationResponse) {
  const error = await client.pollBackchannelAuthenticationGrant(backend, response).then(
    () => undefined,
    (err: unknown) => err as { error?: string; error_description?: string },
  );
  return { error: error?.error, description: error?.error_description };
}

const decode = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');

describe('BankID on the phone through CIBA', () => {
  it('is in the discovery metadata, in poll mode only, without user_code', async () => {
    const metadata = backend.serverMetadata();
    expect(metadata.backchannel_authentication_endpoint).toBe(`${tb.issuer}/backchannel`);
    expect(metadata.backchannel_token_delivery_modes_supported).toEqual(['poll']);
    expect(metadata.backchannel_user_code_parameter_supported).toBe(false);
    expect(metadata.grant_types_supported).toContain('urn:openid:params:grant-type:ciba');
  });

  it('identifies the person after they confirm the call: /phone/auth with the binding message, then tokens and identity claims', async () => {
    await tb.broker.audit.flush();
    const streamBefore = (await auditStream(tb.prefix)).length;
    const message = 'Samtal med Exempelbanken: ärende 4711';
    const { response, order } = await ask({ binding_message: message });
    expect(response.interval).toBe(1);
    expect(response.expires_in).toBeGreaterThan(0);
    expect(order).toMatchObject({ kind: 'phone/auth', personalNumber: PERSON.personalNumber, callInitiator: 'RP', hintCode: 'userCallConfirm' });
    expect(decode(order.userVisibleData)).toBe(message);
    // Nothing to pick up: the phone API hands out no QR code or autostart token.
    expect(simulator.lastRequest('phone/auth')).not.toHaveProperty('endUserIp');

    simulator.confirmCall(order.orderRef);
    simulator.approve(order.orderRef);
    const tokens = await client.pollBackchannelAuthenticationGrant(backend, response);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ acr: PHONE_ACR, personal_number: PERSON.personalNumber, given_name: PERSON.givenName, family_name: PERSON.surname });
    expect(claims).not.toHaveProperty('authorization_details');
    const userinfo = await client.fetchUserInfo(backend, tokens.access_token, claims.sub);
    expect(userinfo.personal_number).toBe(PERSON.personalNumber);

    await tb.broker.audit.flush();
    const events = (await auditStream(tb.prefix)).slice(streamBefore);
    expect(events.map((event) => event.event)).toEqual(['backchannel.requested', 'authentication.completed', 'tokens.issued']);
    expect(events[0]).toMatchObject({
      event_id: 'EID_100005',
      client_id: callCentre.client_id,
      eid: 'se-bankid',
      operation: 'auth',
      call_initiator: 'RP',
      transaction_id: order.orderRef,
      personal_number: `${PERSON.personalNumber.slice(0, 8)}****`,
    });
    expect(events[1]).toMatchObject({ login_id: events[0]!.login_id, operation: 'auth', sub: claims.sub, acr: PHONE_ACR });
    expect(events[2]).toMatchObject({ grant_type: 'urn:openid:params:grant-type:ciba', client_id: callCentre.client_id });
    const metrics = await tb.broker.metrics.registry.getSingleMetricAsString('neb_backchannel_requests_total');
    expect(metrics).toContain('eid="se-bankid",operation="auth",result="completed"');
  });

  it('keeps the auth_req_id and the tokens out of Redis: no key names them, no record holds them', async () => {
    const { response, order } = await ask({ binding_message: 'Samtal med Exempelbanken' });
    const redis = new Redis(redisUrl);
    try {
      expect(keysHolding(await everythingStored(redis, tb.prefix), response.auth_req_id)).toEqual([]);
      simulator.confirmCall(order.orderRef);
      simulator.approve(order.orderRef);
      const tokens = await client.pollBackchannelAuthenticationGrant(backend, response);
      const stored = await everythingStored(redis, tb.prefix);
      for (const value of [response.auth_req_id, tokens.access_token]) expect(keysHolding(stored, value)).toEqual([]);
    } finally {
      await redis.quit();
    }
  });

  it('keeps the personal number hinted and the binding message out of Redis in clear, also base64-encoded, while the request waits', async () => {
    const message = 'Samtal om ärende 90210 med Exempelbanken';
    const { order } = await ask({ binding_message: message });
    const readable = await everythingReadable(tb.prefix);
    expect(readable).not.toContain(PERSON.personalNumber);
    expect(readable).not.toContain('90210');
    simulator.declineCall(order.orderRef);
  });

  it('tells BankID who called whom', async () => {
    const { order } = await ask({ call_initiator: 'user' });
    expect(order.callInitiator).toBe('user');
    expect(order.userVisibleData).toBeUndefined();
    simulator.declineCall(order.orderRef);
  });

  it('a person who says they are not in a call: access_denied in plain words', async () => {
    const { response, order } = await ask({});
    simulator.declineCall(order.orderRef);
    expect(await pollError(response)).toEqual({ error: 'access_denied', description: 'The person answered in the BankID app that they are not in a call with you.' });
  });

  it('a person who cancels in the app after confirming the call: access_denied', async () => {
    const { response, order } = await ask({});
    simulator.confirmCall(order.orderRef);
    simulator.userCancel(order.orderRef);
    expect((await pollError(response)).error).toBe('access_denied');
  });

  it('an order that times out: expired_token', async () => {
    const { response, order } = await ask({});
    simulator.expire(order.orderRef);
    expect(await pollError(response)).toEqual({ error: 'expired_token', description: 'The person did not finish in BankID in time.' });
  });

  it('a signature: /phone/sign with the text, and the entry with BankID evidence in the token response and the ID token', async () => {
    const text = '# Låneavtal\nJag godkänner villkoren för lån 12-345.';
    const data = Buffer.from('loan=12-345').toString('base64');
    const details = [{ type: 'sign', text, format: 'simpleMarkdownV1', data }];
    const { response, order } = await ask({ authorization_details: JSON.stringify(details), call_initiator: 'user' });
    expect(order.kind).toBe('phone/sign');
    expect(decode(order.userVisibleData)).toBe(text);
    expect(simulator.lastRequest('phone/sign')).toMatchObject({ userVisibleDataFormat: 'simpleMarkdownV1', userNonVisibleData: data, callInitiator: 'user' });

    simulator.confirmCall(order.orderRef);
    simulator.approve(order.orderRef);
    const tokens = await client.pollBackchannelAuthenticationGrant(backend, response);
    /** An entry as granted: what the person saw, and BankID's evidence. */
    type Granted = Record<string, unknown> & { evidence: Record<string, string> & { device: Record<string, string> } };
    const granted = tokens.authorization_details as unknown as Granted[];
    expect(tokens.claims()!.authorization_details).toEqual(granted);
    expect(granted).toHaveLength(1);
    const [signed] = granted;
    expect(signed).toMatchObject({ type: 'sign', text, format: 'simpleMarkdownV1', data });
    expect(signed!.evidence).toMatchObject({ eid: 'se-bankid', orderRef: order.orderRef, ocspResponse: expect.any(String), bankIdIssueDate: PERSON.bankIdIssueDate });
    expect(signed!.evidence.device).toMatchObject({ ipAddress: '198.51.100.7', uhi: expect.any(String) });
    expect(Date.parse(signed!.evidence.completedAt!)).not.toBeNaN();
    expect(decode(signed!.evidence.signature!)).toContain(`<userVisibleData>${order.userVisibleData}</userVisibleData>`);
    expect(tokens.claims()).not.toHaveProperty('signature');
  });

  it('a request that runs out unanswered: its order is stopped at BankID, and the next poll gets expired_token', async () => {
    const { response, order } = await ask({ requested_expiry: '2' });
    expect(response.expires_in).toBe(2);
    for (let i = 0; i < 100 && simulator.callCount('cancel', order.orderRef) === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
    // The person can no longer confirm the call, let alone sign, with no one to receive it.
    expect(() => simulator.confirmCall(order.orderRef)).toThrow();
    expect(await pollError(response)).toEqual({ error: 'expired_token', description: 'backchannel authentication request is expired' });
    // Its end is audited and counted like any other.
    await tb.broker.audit.flush();
    const events = await auditStream(tb.prefix);
    const requested = events.find((event) => event.event === 'backchannel.requested' && event.transaction_id === order.orderRef)!;
    expect(events.filter((event) => event.login_id === requested.login_id)).toMatchObject([
      { event: 'backchannel.requested' },
      { event: 'authentication.cancelled', ending: 'expired', message: 'The request expired before the person answered.' },
    ]);
    expect(await tb.broker.metrics.registry.getSingleMetricAsString('neb_backchannel_requests_total')).toContain('eid="se-bankid",operation="auth",result="expired"');
  });

  it('a request whose instance went away and whose client stopped polling: another instance stops its order once it expires', { timeout: 40_000 }, async () => {
    // A second instance of the same deployment takes the request, then goes away while it waits.
    const gone = await startTestBroker({ clients: [callCentre], eids: { 'se-bankid': bankIdSection(simulator, pki) }, ciba: { interval: 1, per_person: { requests: 100 } } }, 'bankid-phone-gone', {
      prefix: tb.prefix,
    });
    const before = phoneOrders();
    const response = await client.initiateBackchannelAuthentication(await discoverAt(gone, callCentre), {
      scope: 'openid personal_number',
      login_hint: PERSON.personalNumber,
      call_initiator: 'RP',
      requested_expiry: '2',
    });
    const order = await phoneOrder(before);
    // Gone as an instance goes, leaving the deployment's keys in Redis.
    await gone.broker.close();
    expect(order.status).toBe('pending');

    // Nobody polls: the instance left (tb) stops the order at BankID a little after it expired.
    for (let i = 0; i < 300 && simulator.callCount('cancel', order.orderRef) === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(simulator.cancelledOrders().map((cancelled) => cancelled.orderRef)).toContain(order.orderRef);
    expect(() => simulator.confirmCall(order.orderRef)).toThrow();
    expect(await pollError(response)).toMatchObject({ error: 'expired_token' });
    await tb.broker.audit.flush();
    const events = await auditStream(tb.prefix);
    const requested = events.find((event) => event.event === 'backchannel.requested' && event.transaction_id === order.orderRef)!;
    expect(events.filter((event) => event.login_id === requested.login_id)).toMatchObject([
      { event: 'backchannel.requested' },
      { event: 'authentication.cancelled', ending: 'expired' },
    ]);
  });

  it('polling faster than the interval: slow_down, and the request still completes', async () => {
    const { response, order } = await ask({});
    const poll = () =>
      fetch(`${tb.issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${callCentre.client_id}:${callCentre.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: response.auth_req_id }),
      }).then(async (answer) => ({ status: answer.status, body: (await answer.json()) as { error?: string } }));
    expect(await poll()).toEqual({ status: 400, body: expect.objectContaining({ error: 'authorization_pending' }) });
    expect(await poll()).toEqual({ status: 400, body: expect.objectContaining({ error: 'slow_down' }) });
    simulator.confirmCall(order.orderRef);
    simulator.approve(order.orderRef);
    const tokens = await client.pollBackchannelAuthenticationGrant(backend, response);
    expect(tokens.claims()!.acr).toBe(PHONE_ACR);
  });
});

describe('registering for CIBA', () => {
  it('the admin API registers a CIBA client, which can then reach a person', async () => {
    const created = await createClient(tb.issuer, {
      client_id: 'helpdesk',
      redirect_uris: ['https://helpdesk.example/callback'],
      grant_types: ['authorization_code', 'urn:openid:params:grant-type:ciba'],
      backchannel_token_delivery_mode: 'poll',
    });
    const helpdesk = await discover({ client_id: created.client_id, client_secret: created.client_secret! });
    const before = phoneOrders();
    await client.initiateBackchannelAuthentication(helpdesk, { scope: 'openid', login_hint: PERSON.personalNumber, call_initiator: 'user' });
    simulator.declineCall((await phoneOrder(before)).orderRef);
  });

  it('dynamic registration cannot give a client the CIBA grant', async () => {
    const answer = await fetch(`${tb.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: ['https://self.example/callback'],
        grant_types: ['authorization_code', 'urn:openid:params:grant-type:ciba'],
        backchannel_token_delivery_mode: 'poll',
      }),
    });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ error: 'invalid_client_metadata', error_description: expect.stringMatching(/^grant_types: urn:openid:params:grant-type:ciba is granted by the operator/) });
  });
});

describe('backchannel requests over the rate limit', () => {
  it("a client sending more than its allowance gets 429 before BankID is asked; wrong secrets in its name use none of it", async () => {
    const limited = await startTestBroker(
      {
        clients: [callCentre],
        eids: { 'se-bankid': bankIdSection(simulator, pki) },
        rate_limits: { window_seconds: LONG_WINDOW, backchannel: { per_ip: 0, per_client: 2 } },
      },
      'bankid-phone-limited',
    );
    await clearOfWindowEnd();
    const guesser = await discoverAt(limited, { ...callCentre, client_secret: 'a-guessed-secret-that-is-long-enough-for-the-schema' });
    const guessed = await refusal(guesser, { scope: 'openid', login_hint: PERSON.personalNumber, call_initiator: 'RP' });
    expect(guessed).toMatchObject({ status: 401, sentToBankId: false });
    const limitedBackend = await discoverAt(limited, callCentre);
    const parameters = { scope: 'openid', login_hint: PERSON.personalNumber, call_initiator: 'RP' };
    for (let i = 0; i < 2; i += 1) {
      const before = phoneOrders();
      await client.initiateBackchannelAuthentication(limitedBackend, parameters);
      simulator.declineCall((await phoneOrder(before)).orderRef);
    }
    expect(await refusal(limitedBackend, parameters)).toMatchObject({ error: 'too_many_requests', status: 429, sentToBankId: false });
  });
});

describe('backchannel requests per person', () => {
  const helpdesk = { ...callCentre, client_id: 'helpdesk', client_secret: 'a-helpdesk-secret-that-is-long-enough-for-the-schema' };
  const OTHER_PERSON = simulatedPersons[1]!;

  /** A CIBA request as it goes over the wire, with the answer's status, Retry-After and body. */
  async function sent(at: TestBroker, registration: { client_id: string; client_secret: string }, loginHint: string) {
    const callsBefore = phoneCalls();
    const ordersBefore = phoneOrders();
    const answer = await fetch(`${at.issuer}/backchannel`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${registration.client_id}:${registration.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ scope: 'openid', login_hint: loginHint, call_initiator: 'RP' }),
    });
    const body = (await answer.json()) as { auth_req_id?: string; error?: string; error_description?: string };
    // An order made is declined at once: BankID would refuse the next one for the person while it runs.
    if (body.auth_req_id) simulator.declineCall((await phoneOrder(ordersBefore)).orderRef);
    return { status: answer.status, retryAfter: answer.headers.get('retry-after'), body, sentToBankId: phoneCalls() > callsBefore };
  }

  it('a client asking one person more often than ciba.per_person allows: access_denied (403) before BankID is asked; other people and other clients still get through', async () => {
    const bounded = await startTestBroker(
      { clients: [callCentre, helpdesk], eids: { 'se-bankid': bankIdSection(simulator, pki) }, ciba: { per_person: { requests: 2, window_seconds: 600 } } },
      'bankid-phone-per-person',
    );
    for (let i = 0; i < 2; i += 1) expect(await sent(bounded, callCentre, PERSON.personalNumber)).toMatchObject({ status: 200, sentToBankId: true });

    const refused = await sent(bounded, callCentre, PERSON.personalNumber);
    expect(refused).toMatchObject({ status: 403, sentToBankId: false, body: { error: 'access_denied' } });
    expect(refused.body.error_description).toMatch(/^this client has asked this person 2 times within 10 minutes already, .*try again in (10|9) minutes/);
    expect(Number(refused.retryAfter)).toBeGreaterThan(500);
    // The same personal number written as BankID also takes it, with a hyphen: the same person.
    const hyphenated = `${PERSON.personalNumber.slice(0, 8)}-${PERSON.personalNumber.slice(8)}`;
    expect(await sent(bounded, callCentre, hyphenated)).toMatchObject({ status: 403, sentToBankId: false });

    expect(await sent(bounded, callCentre, OTHER_PERSON.personalNumber)).toMatchObject({ status: 200, sentToBankId: true });
    expect(await sent(bounded, helpdesk, PERSON.personalNumber)).toMatchObject({ status: 200, sentToBankId: true });

    await bounded.broker.audit.flush();
    const refusals = (await auditStream(bounded.prefix)).filter((event) => event.event === 'backchannel.refused');
    expect(refusals).toEqual([expect.objectContaining({ client_id: callCentre.client_id, error: 'access_denied' }), expect.objectContaining({ error: 'access_denied' })]);
    expect(await bounded.broker.metrics.registry.getSingleMetricAsString('neb_rate_limited_total')).toContain('neb_rate_limited_total{limit="backchannel",by="person"} 2');
    // The count names the person by a keyed hash, and the requests are sealed: no key or record holds the personal number.
    const redis = new Redis(redisUrl);
    try {
      const stored = await everythingStored(redis, bounded.prefix);
      expect(stored.filter(({ key }) => key.startsWith(`${bounded.prefix}ciba:per-person:`))).toHaveLength(3);
      expect(keysHolding(stored, PERSON.personalNumber)).toEqual([]);
    } finally {
      await redis.quit();
    }
  });
});

describe('refused backchannel requests reach no BankID', () => {
  it('a client not registered for CIBA: unauthorized_client', async () => {
    const answer = await refusal(webApp, { scope: 'openid', login_hint: PERSON.personalNumber, call_initiator: 'RP' });
    expect(answer).toMatchObject({ error: 'unauthorized_client', sentToBankId: false, description: expect.stringMatching(/not registered for CIBA/) });
  });

  it.each([
    ['letters', 'not-a-number'],
    ['a wrong check digit', '198503122438'],
    ['ten digits', '8503122437'],
  ])('a login_hint of %s: invalid_request', async (_case, loginHint) => {
    const answer = await refusal(backend, { scope: 'openid', login_hint: loginHint, call_initiator: 'RP' });
    expect(answer).toMatchObject({ error: 'invalid_request', sentToBankId: false });
    expect(answer.description).toMatch(/login_hint must be a Swedish personal number/);
  });

  it.each([
    ['no call_initiator', { call_initiator: '' }, 'invalid_request', /call_initiator is required/],
    ['a call_initiator BankID does not know', { call_initiator: 'agent' }, 'invalid_request', /call_initiator must be user/],
    ['a binding_message with a control character', { binding_message: 'ring\u0007' }, 'invalid_binding_message', /binding_message/],
    ['a binding_message that reads backwards', { binding_message: 'Samtal med \u202eknaB' }, 'invalid_binding_message', /bidirectional formatting marks/],
    ['a binding_message on two lines by a LINE SEPARATOR', { binding_message: 'Samtal med\u2028Banken' }, 'invalid_binding_message', /line or paragraph separators/],
    ['a binding_message carrying invisible characters', { binding_message: 'Samtal med Banken\u2060\u2062' }, 'invalid_binding_message', /invisible characters/],
    ['a text to sign with a PARAGRAPH SEPARATOR', { authorization_details: JSON.stringify([{ type: 'sign', text: 'Avtal\u2029Del 2' }]) }, 'invalid_authorization_details', /text: must not contain .* line or paragraph separators/],
    ['a binding_message of spaces', { binding_message: '   ' }, 'invalid_binding_message', /1 to 255 characters of text/],
    ['a binding_message of a zero-width space', { binding_message: '\u200b' }, 'invalid_binding_message', /1 to 255 characters of text/],
    ['a text to sign with a lone surrogate', { authorization_details: JSON.stringify([{ type: 'sign', text: 'Avtal \ud800' }]) }, 'invalid_authorization_details', /lone surrogates/],
    ['a text to sign and a binding_message', { binding_message: 'Hej', authorization_details: JSON.stringify([{ type: 'sign', text: 'Avtal' }]) }, 'invalid_request', /cannot be combined/],
    ['a payment, which the phone API cannot make', { authorization_details: JSON.stringify([{ type: 'payment', transaction: { type: 'npa', recipient: { name: 'Webshop AB' } } }]) }, 'invalid_request', /payment cannot be approved over the phone/],
    ['an authorization_details type no eID serves', { authorization_details: JSON.stringify([{ type: 'loan', text: 'x' }]) }, 'invalid_authorization_details', /.+/],
    ['a sign entry without text', { authorization_details: JSON.stringify([{ type: 'sign' }]) }, 'invalid_authorization_details', /text: is required/],
    ['a sign entry with an unknown field', { authorization_details: JSON.stringify([{ type: 'sign', text: 'Avtal', amount: 5 }]) }, 'invalid_authorization_details', /amount/],
    ['two entries', { authorization_details: JSON.stringify([{ type: 'sign', text: 'Avtal' }, { type: 'sign', text: 'Avtal 2' }]) }, 'invalid_authorization_details', /only one authorization_details entry/],
    ['a text too long for BankID', { authorization_details: JSON.stringify([{ type: 'sign', text: 'a'.repeat(30_001) }]) }, 'invalid_authorization_details', /text: is too long/],
    ['login_hint_token', { login_hint: '', login_hint_token: 'eyJ0' }, 'invalid_request', /login_hint_token is not supported/],
  ])('%s', async (_case, parameters, error, description) => {
    const answer = await refusal(backend, { scope: 'openid', login_hint: PERSON.personalNumber, call_initiator: 'RP', ...parameters });
    expect(answer).toMatchObject({ error, sentToBankId: false });
    expect(answer.description).toMatch(description);
  });

  it('id_token_hint, even an ID token the broker issued this client: invalid_request, and no server_error', async () => {
    const { response, order } = await ask({});
    simulator.confirmCall(order.orderRef);
    simulator.approve(order.orderRef);
    const idToken = (await client.pollBackchannelAuthenticationGrant(backend, response)).id_token!;
    const answer = await refusal(backend, { scope: 'openid', id_token_hint: idToken, call_initiator: 'RP' });
    expect(answer).toEqual({ error: 'invalid_request', status: 400, sentToBankId: false, description: 'id_token_hint is not supported: send the personal number as login_hint' });
  });

  it('refused requests are audited with the error', async () => {
    await tb.broker.audit.flush();
    const before = (await auditStream(tb.prefix)).length;
    await refusal(backend, { scope: 'openid', login_hint: '123', call_initiator: 'RP' });
    await tb.broker.audit.flush();
    // Another client's login of an earlier test may end meanwhile (its collect answered late on a busy machine).
    const events = (await auditStream(tb.prefix)).slice(before).filter((event) => event.client_id === callCentre.client_id);
    expect(events).toEqual([expect.objectContaining({ event_id: 'EID_100006', client_id: callCentre.client_id, error: 'invalid_request' })]);
    expect(JSON.stringify(events)).not.toContain(PERSON.personalNumber);
  });
});
