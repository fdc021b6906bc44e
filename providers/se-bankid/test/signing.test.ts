import { SignJWT, UnsecuredJWT } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, ADMIN_TOKEN } from '../../../test/integration/admin-support.js';
import { startTestBroker } from '../../../test/support/broker.js';
import { auditStream, everythingReadable } from '../../../test/support/ops.js';
import { codeRedemption, RelyingParty } from '../../../test/support/relying-party.js';
import { createTestPki } from '../simulator/certificates.js';
import { simulatedPersons } from '../simulator/persons.js';
import { startBankIdSimulator } from '../simulator/server.js';
import { bankIdSection, BankIdSession, type BankIdTestBed } from './support.js';

const OTHER = 'urn:nordic-eid:se:bankid:other-device';
const THIS = 'urn:nordic-eid:se:bankid:same-device';

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1';

/** A confidential client registered for every BankID transaction type, and one registered for none. */
const signingClient = {
  client_id: 'bank',
  client_secret: 'a-bank-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://bank.example/callback'],
  display_name: 'Example Bank',
  authorization_details_types: ['sign', 'payment', 'login_message'],
};
/** Registered for signatures but allowed only an eID that cannot make them. */
const narrowClient = {
  client_id: 'narrow',
  client_secret: 'a-narrow-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://narrow.example/callback'],
  authorization_details_types: ['sign'],
  allowed_eids: ['test-double'],
};
const plainClient = {
  client_id: 'plain',
  client_secret: 'a-plain-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://plain.example/callback'],
};

let bed: BankIdTestBed;
let plain: RelyingParty;

beforeAll(async () => {
  const pki = await createTestPki();
  const simulator = await startBankIdSimulator({ pki });
  afterAll(() => simulator.close());
  // Beside BankID an eID that cannot sign, which a signature must never be offered.
  const tb = await startTestBroker(
    { clients: [signingClient, plainClient, narrowClient], eids: { 'se-bankid': bankIdSection(simulator, pki), 'test-double': {} }, admin: { token: ADMIN_TOKEN },
      registration: { enabled: true, initial_access_token: false, management: true },
    },
    'bankid-signing',
  );
  bed = { simulator, tb, rp: await RelyingParty.discover(tb.issuer, signingClient) };
  plain = await RelyingParty.discover(tb.issuer, plainClient);
});

const details = (...entries: object[]) => JSON.stringify(entries);
const AGREEMENT = 'I accept the loan terms of 2026-11-30:\n– 100 000 SEK over 5 years <at 4,5 %>';

/** Pushes the request (PAR) and follows the request_uri to the BankID page. */
async function begin(params: Record<string, string>): Promise<BankIdSession> {
  const url = await bed.rp.pushedAuthorizationUrl(params);
  expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
  return BankIdSession.beginAt(bed, url);
}

/** Plays the person on another device: scans the QR code and signs as test person `person`; answers the client's callback. */
async function approveOnOtherDevice(session: BankIdSession, person = 0) {
  const started = await session.start('other');
  bed.simulator.scanQr(started.qrCode!.payload);
  await session.pollUntil((s) => s.hintCode === 'userSign');
  const orderRef = session.orderRef();
  bed.simulator.approve(orderRef, person);
  const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
  return { orderRef, callback: await session.backToClient(complete.redirectTo!) };
}

/** approveOnOtherDevice, and the client redeems the code. */
async function signOnOtherDevice(session: BankIdSession, person = 0) {
  const { orderRef, callback } = await approveOnOtherDevice(session, person);
  return { orderRef, tokens: await bed.rp.redeem(callback) };
}

describe('signing with BankID through a pushed authorization request', () => {
  it('on another device: /sign with the text, and the evidence in the token response and the ID token', async () => {
    const data = Buffer.from('loan-4711').toString('base64');
    const session = await begin({ acr_values: OTHER, authorization_details: details({ type: 'sign', text: AGREEMENT, data }) });
    const { orderRef, tokens } = await signOnOtherDevice(session);

    expect(bed.simulator.lastRequest('sign')).toMatchObject({ userVisibleData: Buffer.from(AGREEMENT).toString('base64'), userNonVisibleData: data });
    expect(bed.simulator.lastRequest('sign')).not.toHaveProperty('userVisibleDataFormat');
    const granted = [
      {
        type: 'sign',
        text: AGREEMENT,
        data,
        evidence: {
          eid: 'se-bankid',
          orderRef,
          completedAt: expect.any(String),
          signature: expect.any(String),
          ocspResponse: expect.any(String),
          device: { ipAddress: '127.0.0.1', uhi: expect.any(String) },
          risk: 'low',
          bankIdIssueDate: expect.any(String),
        },
      },
    ];
    expect(tokens.authorization_details).toEqual(granted);
    expect(tokens.claims()!.authorization_details).toEqual(tokens.authorization_details);
    // The signature BankID returns holds what the person signed.
    const evidence = (tokens.authorization_details as unknown as [{ evidence: { signature: string } }])[0].evidence;
    expect(Buffer.from(evidence.signature, 'base64').toString()).toContain(Buffer.from(AGREEMENT).toString('base64'));
    expect(tokens.claims()).toMatchObject({ acr: OTHER, personal_number: simulatedPersons[0]!.personalNumber });
  });

  it('keeps what was signed and who signed it out of Redis in clear while the tokens that carry the evidence live', async () => {
    const secretTerms = 'Lånevillkor 2026-12-02 för lån 88-4711-123';
    const session = await begin({ acr_values: OTHER, authorization_details: details({ type: 'sign', text: secretTerms }) });
    const { tokens } = await signOnOtherDevice(session);
    expect(tokens.authorization_details).toMatchObject([{ type: 'sign', text: secretTerms }]);
    const readable = await everythingReadable(bed.tb.prefix);
    expect(readable).not.toContain(simulatedPersons[0]!.personalNumber);
    expect(readable).not.toContain('88-4711-123');
  });

  it('on this device, restricted to the person login_hint names: /sign with requirement.personalNumber and markdown', async () => {
    const person = simulatedPersons[1]!;
    bed.rp.browser.headers.set('user-agent', IPHONE);
    try {
      const text = '# Loan agreement\n\n*I accept* the terms.';
      const session = await begin({
        acr_values: THIS,
        login_hint: `personal_number:${person.personalNumber}`,
        authorization_details: details({ type: 'sign', text, format: 'simpleMarkdownV1' }),
      });
      const started = await session.start();
      expect(bed.simulator.lastRequest('sign')).toMatchObject({
        requirement: { personalNumber: person.personalNumber },
        userVisibleData: Buffer.from(text).toString('base64'),
        userVisibleDataFormat: 'simpleMarkdownV1',
        returnUrl: expect.stringContaining(`/interaction/${session.uid}/se-bankid/return?nonce=`),
      });
      bed.simulator.openAutoStart(started.autoStartToken!);
      await session.pollUntil((s) => s.hintCode === 'userSign');
      const orderRef = session.orderRef();
      bed.simulator.approve(orderRef, 1);
      const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
      const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
      expect(tokens.claims()).toMatchObject({
        acr: THIS,
        personal_number: person.personalNumber,
        authorization_details: [{ type: 'sign', text, format: 'simpleMarkdownV1', evidence: { orderRef } }],
      });
    } finally {
      bed.rp.browser.headers.delete('user-agent');
    }
  });

  it('a login with a message: /auth with userVisibleData, shown on the page, and a plain login for the client', async () => {
    const text = 'Log in to Example Bank <internet bank>';
    const session = await begin({ acr_values: OTHER, authorization_details: details({ type: 'login_message', text }) });
    const page = await (await bed.rp.browser.request(`/interaction/${session.uid}/se-bankid/`)).text();
    expect(page).toContain('Log in to Example Bank &lt;internet bank&gt;');
    const { orderRef, tokens } = await signOnOtherDevice(session);
    const auth = bed.simulator.lastRequest('auth') as Record<string, unknown>;
    expect(auth).toMatchObject({ userVisibleData: Buffer.from(text).toString('base64') });
    expect(tokens.authorization_details).toEqual([{ type: 'login_message', text, evidence: expect.objectContaining({ orderRef }) }]);
  });

  it('a payment: /payment with the transaction and risk flags, and its evidence', async () => {
    const payment = {
      type: 'payment',
      transaction: { type: 'card', recipient: { name: 'Webshop AB' }, money: { amount: '1499,00', currency: 'SEK' }, riskWarning: 'First purchase from this shop' },
      riskFlags: ['newRecipient', 'largeAmount'],
    };
    const session = await begin({ acr_values: OTHER, authorization_details: details(payment) });
    const page = await (await bed.rp.browser.request(`/interaction/${session.uid}/se-bankid/`)).text();
    expect(page).toContain('Webshop AB');
    expect(page).toContain('1499,00 SEK');
    const { orderRef, tokens } = await signOnOtherDevice(session);
    expect(bed.simulator.lastRequest('payment')).toMatchObject({
      userVisibleTransaction: { transactionType: 'card', recipient: { name: 'Webshop AB' }, money: { amount: '1499,00', currency: 'SEK' }, riskWarning: 'First purchase from this shop' },
      riskFlags: ['newRecipient', 'largeAmount'],
    });
    expect(tokens.authorization_details).toEqual([{ ...payment, evidence: expect.objectContaining({ orderRef, signature: expect.any(String) }) }]);
    expect(tokens.claims()!.authorization_details).toEqual(tokens.authorization_details);
  });

  it('the person declines in the app: access_denied, and no authorization_details', async () => {
    const session = await begin({ acr_values: OTHER, authorization_details: details({ type: 'sign', text: AGREEMENT }) });
    const started = await session.start('other');
    bed.simulator.scanQr(started.qrCode!.payload);
    await session.pollUntil((s) => s.hintCode === 'userSign');
    bed.simulator.userCancel(session.orderRef());
    expect(await session.pollUntil((s) => s.status === 'CANCEL')).toMatchObject({ messageCode: 'RFA6', message: 'You cancelled the signing.', retry: true });
    const callback = await session.backToClient((await session.call('cancel')).body.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('access_denied');
  });
});

/** Requests that would start an order at BankID, so far. */
const ordersSent = () => ['auth', 'sign', 'payment'].reduce((sum, endpoint) => sum + bed.simulator.callCount(endpoint), 0);

/** The error a pushed request gets, as openid-client reports it. */
async function pushRefused(rp: RelyingParty, params: Record<string, string>) {
  const error = await rp.pushedAuthorizationUrl(params).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(client.ResponseBodyError);
  const { error: code, error_description: description } = error as client.ResponseBodyError;
  return { code, description };
}

/** The authorization URL of a request object (RFC 9101) carrying the client's parameters, signed with its secret (HS256) or not at all. */
async function requestObjectUrl(params: Record<string, string>, signed: boolean): Promise<URL> {
  const plainUrl = await bed.rp.authorizationUrl(params);
  const claims = { ...Object.fromEntries(plainUrl.searchParams), iss: signingClient.client_id, aud: bed.tb.issuer };
  const jwt = signed
    ? await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1m').sign(new TextEncoder().encode(signingClient.client_secret))
    : new UnsecuredJWT(claims).setIssuedAt().setExpirationTime('1m').encode();
  const url = new URL(plainUrl.origin + plainUrl.pathname);
  url.search = new URLSearchParams({ client_id: signingClient.client_id, response_type: 'code', scope: 'openid', request: jwt }).toString();
  return url;
}

describe('other ways in, and what a later login carries', () => {
  it('a signature in a signed request object is accepted like a pushed one, and its login_hint proven: BankID gets the person', async () => {
    const { personalNumber } = simulatedPersons[0]!;
    const url = await requestObjectUrl({ acr_values: OTHER, login_hint: `personal_number:${personalNumber}`, authorization_details: details({ type: 'sign', text: AGREEMENT }) }, true);
    const session = await BankIdSession.beginAt(bed, url);
    const { tokens } = await signOnOtherDevice(session);
    expect(bed.simulator.lastRequest('sign')).toMatchObject({ requirement: { personalNumber } });
    expect(tokens.authorization_details).toMatchObject([{ type: 'sign', text: AGREEMENT }]);
  });

  it('an unsigned request object is refused, on an error page (its redirect_uri cannot be trusted)', async () => {
    const url = await requestObjectUrl({ authorization_details: details({ type: 'sign', text: AGREEMENT }) }, false);
    const before = ordersSent();
    const { leftTo, response } = await bed.rp.browser.follow(url);
    expect(leftTo).toBeUndefined();
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('<code>invalid_request_object</code>');
    expect(ordersSent()).toBe(before);
  });

  it('a token request bringing authorization_details is refused before the code is used: the corrected request gets the signature', async () => {
    const session = await begin({ acr_values: OTHER, authorization_details: details({ type: 'sign', text: AGREEMENT }) });
    const { orderRef, callback } = await approveOnOtherDevice(session);
    const answer = await fetch(`${bed.tb.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${signingClient.client_id}:${signingClient.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({ ...codeRedemption(bed.rp, callback), authorization_details: details({ type: 'sign', text: 'Something else' }) }),
    });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({
      error: 'invalid_authorization_details',
      error_description: 'authorization_details are granted at the authorization endpoint and cannot be changed in a token request',
    });
    const tokens = await bed.rp.redeem(callback);
    expect(tokens.authorization_details).toMatchObject([{ type: 'sign', text: AGREEMENT, evidence: { orderRef } }]);
  });

  it('only an eID that can sign is offered: without acr_values straight to BankID, not to a picker with others', async () => {
    const url = await bed.rp.pushedAuthorizationUrl({ authorization_details: details({ type: 'sign', text: AGREEMENT }) });
    const { response } = await bed.rp.browser.follow(url);
    expect(new URL(response.url).pathname).toMatch(/^\/interaction\/[^/]+\/se-bankid\/$/);
  });

  it('acr_values naming an eID that cannot sign, or a client allowed only such: refused at the redirect_uri before any login, saying why', async () => {
    const url = await bed.rp.pushedAuthorizationUrl({ acr_values: 'urn:test:test-double', authorization_details: details({ type: 'sign', text: AGREEMENT }) });
    const { leftTo } = await bed.rp.browser.follow(url);
    expect(Object.fromEntries(leftTo!.searchParams)).toMatchObject({
      error: 'unauthorized_client',
      error_description: 'no eID this client may use (with the acr_values asked for) serves authorization_details of type sign',
    });
    const narrow = await RelyingParty.discover(bed.tb.issuer, narrowClient);
    const refused = await narrow.browser.follow(await narrow.pushedAuthorizationUrl({ authorization_details: details({ type: 'sign', text: AGREEMENT }) }));
    expect(Object.fromEntries(refused.leftTo!.searchParams)).toMatchObject({
      error: 'unauthorized_client',
      error_description: 'no eID this client may use serves authorization_details of type sign',
    });
  });

  it('a plain login after a signature in the same browser carries no authorization_details', async () => {
    await signOnOtherDevice(await begin({ acr_values: OTHER, authorization_details: details({ type: 'sign', text: AGREEMENT }) }));
    const { tokens } = await signOnOtherDevice(await begin({ acr_values: OTHER }));
    expect(tokens.authorization_details).toBeUndefined();
    expect(tokens.claims()).not.toHaveProperty('authorization_details');
    expect(bed.simulator.orders().at(-1)!.kind).toBe('auth');
  });
});

describe('bad requests never reach BankID', () => {
  const sign = (fields: object) => details({ type: 'sign', ...fields });
  it.each([
    ['an unknown type', details({ type: 'transfer', text: 'x' }), /unsupported authorization details type/],
    ['a missing text', sign({}), /text: is required/],
    ['an empty text', sign({ text: '   ' }), /text: must not be empty/],
    ['a text of zero-width spaces, which shows nothing', sign({ text: '\u200b \u200b\n' }), /text: must not be empty/],
    ['an oversized text', sign({ text: 'a'.repeat(30_001) }), /text: is too long: BankID takes at most 40000 characters/],
    ['a bad format', sign({ text: 'x', format: 'html' }), /format: must be plaintext or simpleMarkdownV1/],
    ['an unknown field', sign({ text: 'x', pdf: 'JVBERi0=' }), /Unrecognized key: 'pdf'/i],
    ['data that is not base64', sign({ text: 'x', data: 'not base64!' }), /data: must be base64/],
    ['two entries', details({ type: 'sign', text: 'a' }, { type: 'sign', text: 'b' }), /only one authorization_details entry/],
    ['an npa payment with money', details({ type: 'payment', transaction: { type: 'npa', recipient: { name: 'A' }, money: { amount: '1', currency: 'SEK' } } }), /money: an npa transaction has no money/],
    ['a login message over 1,500 characters of base64', details({ type: 'login_message', text: 'a'.repeat(1_126) }), /text: is too long: BankID takes at most 1500/],
    // UTF-8 cannot carry a lone surrogate: BankID would sign U+FFFD while the tokens echoed it.
    ['a lone surrogate in the text', sign({ text: 'I accept to pay 100 SEK \ud800' }), /text: must not contain control characters, lone surrogates,/],
    ['a control character in the text', sign({ text: 'I accept\u001b[8m to pay 100 SEK' }), /text: must not contain control characters/],
    ['a bidirectional override in the text', sign({ text: 'I accept to pay \u202e0001 KES' }), /text: must not contain .* bidirectional formatting marks/],
    // A LINE SEPARATOR breaks the line in some displays and not in others: two lines could read as one.
    ['a line separator in the text', sign({ text: 'I accept to pay 100 SEK\u2028per month' }), /text: must not contain .* line or paragraph separators/],
    ['a paragraph separator in a login message', details({ type: 'login_message', text: 'Log in to\u2029Example Bank' }), /text: must not contain .* line or paragraph separators/],
    // Characters that show nothing could carry a second text the person never saw but "signed".
    ['tag characters in the text', sign({ text: 'I accept \u{e0061}\u{e006c}\u{e006c} the terms' }), /text: must not contain .* invisible characters/],
    ['a byte order mark in the text', sign({ text: '\ufeffI accept the terms' }), /text: must not contain .* invisible characters/],
    [
      'a zero-width space in a recipient',
      details({ type: 'payment', transaction: { type: 'npa', recipient: { name: 'Web\u200bshop AB' } } }),
      /transaction\.recipient\.name: must not contain .* invisible characters/,
    ],
    // Checked as written: trimming would take a trailing LINE SEPARATOR for white space.
    [
      'a line separator closing a recipient',
      details({ type: 'payment', transaction: { type: 'npa', recipient: { name: 'Webshop AB\u2028' } } }),
      /transaction\.recipient\.name: must not contain .* line or paragraph separators/,
    ],
    [
      'an invisible operator in a risk warning',
      details({ type: 'payment', transaction: { type: 'npa', recipient: { name: 'Webshop AB' }, riskWarning: 'Check 1\u20642' } }),
      /transaction\.riskWarning: must not contain .* invisible characters/,
    ],
    [
      'a bidirectional isolate in a recipient',
      details({ type: 'payment', transaction: { type: 'npa', recipient: { name: 'Mom \u2067Webshop AB\u2069' } } }),
      /transaction\.recipient\.name: must not contain .* bidirectional formatting marks/,
    ],
  ])('%s: invalid_authorization_details at PAR', async (_case, authorizationDetails, description) => {
    const before = ordersSent();
    const refused = await pushRefused(bed.rp, { authorization_details: authorizationDetails });
    expect(refused.code).toBe('invalid_authorization_details');
    expect(refused.description).toMatch(description);
    // RFC 6749 §5.2: an error_description holds printable ASCII other than " and \.
    expect(refused.description).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
    expect(ordersSent()).toBe(before);
  });

  it('invisible characters that change how a text is drawn are taken: a joined emoji, a soft hyphen, a non-joiner', async () => {
    const text = 'Familjeavtal \u{1f468}\u200d\u{1f469}\u200d\u{1f467} för betalnings\u00admottagare, \u0645\u06cc\u200c\u062e\u0648\u0627\u0645';
    const url = await bed.rp.pushedAuthorizationUrl({ authorization_details: details({ type: 'sign', text }) });
    expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  });

  it('a type the client is not registered for: invalid_authorization_details', async () => {
    const refused = await pushRefused(plain, { authorization_details: sign({ text: 'x' }) });
    expect(refused).toMatchObject({ code: 'invalid_authorization_details', description: expect.stringMatching(/not allowed for this client/) });
  });

  it.each(['sign', 'payment', 'login_message'])('a client cannot give itself %s by registering; what the operator grants it stays through its updates', async (type) => {
    const registration = { redirect_uris: ['https://self.example/callback'], client_name: 'Self' };
    const register = (body: object) => fetch(`${bed.tb.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const refused = await register({ ...registration, authorization_details_types: [type] });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_client_metadata', error_description: expect.stringMatching(/^authorization_details_types: .*granted by the operator/) });

    const reg = (await (await register(registration)).json()) as { client_id: string; client_secret: string; registration_access_token: string; registration_client_uri: string };
    const self = await RelyingParty.discover(bed.tb.issuer, { client_id: reg.client_id, client_secret: reg.client_secret, redirect_uris: registration.redirect_uris });
    const entry = type === 'payment' ? { type, text: 'x', transaction: {} } : { type, text: 'x' };
    expect(await pushRefused(self, { authorization_details: details(entry) })).toMatchObject({ code: 'invalid_authorization_details', description: expect.stringMatching(/not allowed for this client/) });

    expect((await admin(bed.tb.issuer, 'PATCH', `/admin/clients/${reg.client_id}`, { authorization_details_types: [type] })).status).toBe(200);
    const update = await fetch(reg.registration_client_uri, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${reg.registration_access_token}` },
      body: JSON.stringify({ ...registration, client_id: reg.client_id, client_name: 'Self, renamed' }),
    });
    expect(update.status).toBe(200);
    expect(await update.json()).toMatchObject({ client_name: 'Self, renamed', authorization_details_types: [type] });
  });

  it('a signature in a plain authorization URL: invalid_request at the redirect_uri, in plain words', async () => {
    const before = ordersSent();
    const { leftTo } = await bed.rp.authorize({ authorization_details: sign({ text: AGREEMENT }) });
    expect(leftTo!.searchParams.get('error')).toBe('invalid_request');
    expect(leftTo!.searchParams.get('error_description')).toMatch(/only in a pushed authorization request \(PAR\) or a signed request object/);
    expect(ordersSent()).toBe(before);
  });

  it('a malformed personal number in login_hint: invalid_request, and nothing sent to BankID', async () => {
    const before = ordersSent();
    const session = await begin({ acr_values: OTHER, login_hint: 'personal_number:199001011234', authorization_details: sign({ text: AGREEMENT }) });
    const ended = await session.start('other');
    expect(ended).toMatchObject({ status: 'ERROR' });
    const callback = await session.backToClient(ended.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(ordersSent()).toBe(before);
  });
});

describe('what operators get', () => {
  /** The audit events written from here on, and the evidence of the order that a signature ended with. */
  async function eventsOf(run: () => Promise<unknown>): Promise<Awaited<ReturnType<typeof auditStream>>> {
    await bed.tb.broker.audit.flush();
    const before = (await auditStream(bed.tb.prefix)).length;
    await run();
    await bed.tb.broker.audit.flush();
    return (await auditStream(bed.tb.prefix)).slice(before);
  }

  it('a signature is audited as one, and its evidence is served by orderRef to the admin API only', async () => {
    let orderRef = '';
    let granted: unknown;
    const events = await eventsOf(async () => {
      const session = await begin({ acr_values: OTHER, authorization_details: details({ type: 'sign', text: AGREEMENT }) });
      const signed = await signOnOtherDevice(session);
      orderRef = signed.orderRef;
      granted = (signed.tokens.authorization_details as unknown as [{ evidence: unknown }])[0].evidence;
    });
    expect(events.map((event) => [event.event_id, event.event])).toEqual([
      ['EID_110001', 'signature.started'],
      ['EID_110002', 'signature.completed'],
      ['EID_200001', 'tokens.issued'],
    ]);
    expect(events[1]).toMatchObject({ transaction_id: orderRef, eid: 'se-bankid', client_id: signingClient.client_id });

    const read = await eventsOf(async () => {
      const answer = await admin(bed.tb.issuer, 'GET', `/admin/eids/se-bankid/evidence/${orderRef}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual(granted);
    });
    expect(read).toMatchObject([{ event_id: 'EID_400009', event: 'evidence.read', transaction_id: orderRef, actor: 'admin_api' }]);
    expect((await admin(bed.tb.issuer, 'GET', `/admin/eids/se-bankid/evidence/${orderRef}`, undefined, null)).status).toBe(401);
    const unknown = await admin(bed.tb.issuer, 'GET', '/admin/eids/se-bankid/evidence/00000000-0000-0000-0000-000000000000');
    expect(unknown).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });

  it('a declined payment is audited as a cancelled payment; BankID calls are measured per operation', async () => {
    const events = await eventsOf(async () => {
      const payment = { type: 'payment', transaction: { type: 'npa', recipient: { name: 'Example Pension' } } };
      const session = await begin({ acr_values: OTHER, authorization_details: details(payment) });
      const started = await session.start('other');
      bed.simulator.scanQr(started.qrCode!.payload);
      await session.pollUntil((s) => s.hintCode === 'userSign');
      bed.simulator.userCancel(session.orderRef());
      await session.pollUntil((s) => s.status === 'CANCEL');
      await session.backToClient((await session.call('cancel')).body.redirectTo!);
    });
    expect(events.map((event) => event.event)).toEqual(['payment.started', 'payment.cancelled']);
    const metrics = await (await fetch(`${bed.tb.issuer}/metrics`)).text();
    expect(metrics).toMatch(/neb_eid_request_successes_total\{[^}]*operation="payment"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/neb_eid_request_successes_total\{[^}]*operation="sign"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/neb_eid_logins_total\{[^}]*kind="payment",result="cancelled"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/neb_eid_logins_total\{[^}]*kind="signature",result="completed"[^}]*\} [1-9]/);
  });
});

