import { request } from 'node:http';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { EventStreamReader } from '../../../test/support/event-stream.js';
import { rawConnection } from '../../../test/support/http.js';
import { eventually, everythingStored } from '../../../test/support/ops.js';
import { openMonitor, redisUrl } from '../../../test/support/redis.js';
import { publicClient, webClient } from '../../../test/support/broker.js';
import { RelyingParty } from '../../../test/support/relying-party.js';
import type { AuthRequest } from '../api/types.js';
import { simulatedPersons } from '../simulator/persons.js';
import { BankIdSession, startBankIdTestBed, type BankIdTestBed } from './support.js';

const OTHER = 'urn:nordic-eid:se:bankid:other-device';
const THIS = 'urn:nordic-eid:se:bankid:same-device';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1';

let bed: BankIdTestBed;

beforeAll(async () => {
  // Open registration: a stranger may register a client of their own (restricting who may log in).
  bed = await startBankIdTestBed('bankid-login', {}, {}, { registration: { enabled: true, initial_access_token: false } });
});

describe('a full OIDC login through simulated Swedish BankID, on Redis', () => {
  it('on another device: animated QR, scan, approve, and the client gets the documented claims', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER, scope: 'openid profile personal_number eid' });
    const started = await session.start();
    expect(started).toMatchObject({ status: 'IN_PROGRESS', hintCode: 'outstandingTransaction', messageCode: 'RFA1' });
    expect(started.qrCode!.payload).toMatch(/^bankid\.[0-9a-f-]{36}\.\d+\.[0-9a-f]{64}$/);
    expect(started.qrCode!.svg).toContain('<svg');
    expect(started.autoStartToken!).toBeUndefined();

    bed.simulator.scanQr((await session.poll()).qrCode!.payload);
    const signing = await session.pollUntil((s) => s.hintCode === 'userSign');
    expect(signing).toMatchObject({ status: 'IN_PROGRESS', messageCode: 'RFA9' });
    expect(signing.qrCode).toBeUndefined();

    const orderRef = session.orderRef();
    bed.simulator.approve(orderRef, 0);
    const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
    expect(complete.redirectTo!).toContain(`/auth/${session.uid}`);

    const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
    const claims = tokens.claims()!;
    const person = simulatedPersons[0]!;
    expect(claims).toMatchObject({
      acr: OTHER,
      personal_number: person.personalNumber,
      country: 'SE',
      given_name: person.givenName,
      family_name: person.surname,
      idp: 'se-bankid',
      idp_request_id: orderRef,
    });
    expect(claims.birthdate).toBe(`${person.personalNumber.slice(0, 4)}-${person.personalNumber.slice(4, 6)}-${person.personalNumber.slice(6, 8)}`);
  });

  it('on this device: autostart link, a returnUrl with a nonce, and the same-device acr', async () => {
    bed.rp.browser.headers.set('user-agent', IPHONE);
    try {
      const session = await BankIdSession.begin(bed, { acr_values: THIS, scope: 'openid profile personal_number' });
      const started = await session.start();
      expect(started).toMatchObject({ status: 'IN_PROGRESS', messageCode: 'RFA13' });
      expect(started.launchUrl).toBe(`https://app.bankid.com/?autostarttoken=${started.autoStartToken}&redirect=null`);
      expect(started.qrCode).toBeUndefined();

      const auth = bed.simulator.lastRequest('auth') as { returnUrl: string };
      const returnUrl = new URL(auth.returnUrl);
      expect(returnUrl.pathname).toBe(`/interaction/${session.uid}/se-bankid/return`);
      expect(returnUrl.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{22}$/);

      bed.simulator.openAutoStart(started.autoStartToken!);
      expect(await session.pollUntil((s) => s.hintCode === 'started')).toMatchObject({ messageCode: 'RFA15B' });
      await session.pollUntil((s) => s.hintCode === 'userSign');
      bed.simulator.approve(session.orderRef(), 1);

      const back = await bed.rp.browser.request(returnUrl.pathname + returnUrl.search);
      expect(back.status).toBe(200);
      const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
      const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
      // This person's bank sends names in capitals; the claims carry them written the usual way.
      expect(tokens.claims()).toMatchObject({
        acr: THIS,
        personal_number: simulatedPersons[1]!.personalNumber,
        given_name: 'Karl-Johan',
        family_name: 'Åström',
        name: 'Karl-Johan Åström',
      });
    } finally {
      bed.rp.browser.headers.delete('user-agent');
    }
  });

  it('asks for the device when the acr value does not fix it', async () => {
    const session = await BankIdSession.begin(bed);
    expect(await session.start()).toMatchObject({ status: 'NOT_STARTED', messageCode: 'RFA19' });
    expect(await session.start('other')).toMatchObject({ status: 'IN_PROGRESS', messageCode: 'RFA1' });
  });

  it('sends endUserIp and web device data, and never the qrStartSecret to the browser', async () => {
    bed.rp.browser.headers.set('user-agent', `Test/1.0 ${'x'.repeat(400)}`);
    try {
      const session = await BankIdSession.begin(bed, { acr_values: OTHER });
      const started = await session.start();
      const auth = bed.simulator.lastRequest('auth') as AuthRequest;
      expect(auth.endUserIp).toBe('127.0.0.1');
      expect(auth.web!.referringDomain).toBe('127.0.0.1');
      expect(auth.web!.userAgent).toHaveLength(256);
      expect(auth.web!.deviceIdentifier).toMatch(/^[0-9a-f]{64}$/);
      expect(auth.returnUrl).toBeUndefined();
      const order = bed.simulator.orders().at(-1)!;
      expect(JSON.stringify(started)).not.toContain(order.qrStartSecret);
      expect(JSON.stringify(await session.poll())).not.toContain(order.qrStartSecret);
    } finally {
      bed.rp.browser.headers.delete('user-agent');
    }
  });
});

describe('entering the login', () => {
  it('acr_values that fix BankID send /auth straight to its page: the eID recorded once, the interaction cookie for the whole interaction', async () => {
    const eidWrites: string[] = [];
    const mark = `${bed.tb.prefix}mark`;
    let marked = false;
    const monitor = await openMonitor();
    monitor.on('monitor', (_time: string, [command = '', ...args]: string[]) => {
      const key = args.find((arg) => arg.startsWith(`${bed.tb.prefix}login:eid:`));
      if (key && command.toLowerCase() === 'evalsha') eidWrites.push(key);
      if (args[0] === mark) marked = true;
    });
    const redis = new Redis(redisUrl);
    try {
      const entered = await bed.rp.browser.request(await bed.rp.authorizationUrl({ acr_values: OTHER }));
      expect(entered.status).toBe(303);
      const uid = /^\/interaction\/([^/]+)\/se-bankid\/$/.exec(entered.headers.get('location') ?? '')?.[1];
      expect(uid, String(entered.headers.get('location'))).toBeDefined();
      const interactionCookies = entered.headers.getSetCookie().filter((cookie) => /^_interaction(\.sig)?=/.test(cookie));
      expect(interactionCookies.map((cookie) => /; path=([^;]+)/.exec(cookie)?.[1])).toEqual([`/interaction/${uid}`, `/interaction/${uid}`]);
      expect(await redis.exists(`${bed.tb.prefix}login:eid:${uid}`)).toBe(1);

      const page = await bed.rp.browser.request(entered.headers.get('location')!);
      expect(page.status).toBe(200);
      const session = new BankIdSession(bed, 'se-bankid', uid!);
      expect(await session.start()).toMatchObject({ status: 'IN_PROGRESS' });
      const orderRef = session.orderRef();
      const cancelled = await session.call('cancel');
      expect(bed.simulator.callCount('cancel', orderRef)).toBe(1);
      expect((await session.backToClient(cancelled.body.redirectTo!)).searchParams.get('error')).toBe('access_denied');
      // Written when /auth chose BankID; the start, with no picker to go back to, leaves it as it is.
      // MONITOR has shown every command before the mark's read once it shows that read.
      await redis.get(mark);
      await eventually(() => marked);
      expect(eidWrites).toEqual([`${bed.tb.prefix}login:eid:${uid}`]);
    } finally {
      monitor.disconnect();
      redis.disconnect();
    }
  });
});

describe('restricting who may log in', () => {
  it('login_hint=personal_number:<12 digits> the client proved (pushed by a client that authenticated) is sent as requirement.personalNumber', async () => {
    const personalNumber = simulatedPersons[2]!.personalNumber;
    const session = await BankIdSession.beginAt(bed, await bed.rp.pushedAuthorizationUrl({ acr_values: OTHER, login_hint: `personal_number:${personalNumber}` }));
    await session.start();
    expect((bed.simulator.lastRequest('auth') as AuthRequest).requirement).toEqual({ personalNumber });
  });

  it("a hint anyone could have written (a plain URL, a public client's pushed request, a client the stranger registered openly) goes to BankID as no requirement: a stranger's start does not cancel the person's running order", async () => {
    const person = 1;
    const { personalNumber } = simulatedPersons[person]!;
    const hint = { acr_values: OTHER, login_hint: `personal_number:${personalNumber}` };
    const victim = await BankIdSession.beginAt(bed, await bed.rp.pushedAuthorizationUrl(hint));
    const started = await victim.start();
    expect(started.status).toBe('IN_PROGRESS');
    expect((bed.simulator.lastRequest('auth') as AuthRequest).requirement).toEqual({ personalNumber });
    const orderRef = victim.orderRef();
    // Strangers in browsers of their own: a plain URL naming the web app, and a public client's pushed request.
    const plainUrl = { ...bed, rp: await RelyingParty.discover(bed.tb.issuer, webClient) };
    const publicPush = { ...bed, rp: await RelyingParty.discover(bed.tb.issuer, publicClient) };
    // A confidential client of the stranger's own, registered with no token: its pushed requests authenticate.
    const registration = await fetch(`${bed.tb.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['https://stranger.example/cb'] }) });
    const registered = (await registration.json()) as { client_id: string; client_secret: string; registered_openly: boolean };
    expect(registered.registered_openly).toBe(true);
    const ownPush = { ...bed, rp: await RelyingParty.discover(bed.tb.issuer, { ...registered, redirect_uris: ['https://stranger.example/cb'] }) };
    const strangers = [
      await BankIdSession.begin(plainUrl, hint),
      await BankIdSession.beginAt(publicPush, await publicPush.rp.pushedAuthorizationUrl(hint)),
      await BankIdSession.beginAt(ownPush, await ownPush.rp.pushedAuthorizationUrl(hint)),
    ];
    for (const stranger of strangers) {
      expect((await stranger.start()).status).toBe('IN_PROGRESS');
      expect((bed.simulator.lastRequest('auth') as AuthRequest).requirement).toBeUndefined();
    }
    bed.simulator.scanQr((await victim.poll()).qrCode!.payload);
    await victim.pollUntil((s) => s.hintCode === 'userSign');
    bed.simulator.approve(orderRef, person);
    const complete = await victim.pollUntil((s) => s.status === 'COMPLETE');
    const tokens = await bed.rp.redeem(await victim.backToClient(complete.redirectTo!));
    expect(tokens.claims()).toMatchObject({ personal_number: personalNumber });
  });

  it('a plain-URL hint still admits only that person: anyone else who approves is refused as the wrong person', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER, login_hint: `personal_number:${simulatedPersons[3]!.personalNumber}` });
    bed.simulator.scanQr((await session.start()).qrCode!.payload);
    await session.pollUntil((s) => s.hintCode === 'userSign');
    bed.simulator.approve(session.orderRef(), 0);
    const ended = await session.pollUntil((s) => s.status === 'ERROR');
    expect(ended.messageCode).toBe('RFA22');
    const callback = await session.backToClient(ended.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('insufficient_scope');
  });

  it('a malformed personal_number hint ends at the client with invalid_request', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER, login_hint: 'personal_number:19811218987' });
    const started = await session.start();
    expect(started.status).toBe('ERROR');
    const callback = await session.backToClient(started.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('invalid_request');
  });
});

describe('the returnUrl nonce', () => {
  it('a return with another nonce is refused, and the login goes on', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: THIS });
    await session.start();
    const refused = await bed.rp.browser.request(`/interaction/${session.uid}/se-bankid/return?nonce=not-the-nonce`, { headers: { accept: 'text/html' } });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain(refused.headers.get('traceid')!);
    expect(await session.poll()).toMatchObject({ status: 'IN_PROGRESS' });
  });

  // As long as the nonce in characters, longer in bytes: the comparison of bytes threw (a 500).
  it('a nonce of as many characters outside ASCII is refused as another nonce, not a failure of the broker', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: THIS });
    await session.start();
    const nonce = new URL((bed.simulator.lastRequest('auth') as { returnUrl: string }).returnUrl).searchParams.get('nonce')!;
    const refused = await bed.rp.browser.request(`/interaction/${session.uid}/se-bankid/return?nonce=${encodeURIComponent('é'.repeat(nonce.length))}`, { headers: { accept: 'text/html' } });
    expect(refused.status).toBe(400);
    expect(await session.poll()).toMatchObject({ status: 'IN_PROGRESS' });
  });
});

describe('cancel', () => {
  it('cancels the order at BankID and sends access_denied to the client', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    const orderRef = session.orderRef();
    const cancelled = await session.call('cancel');
    expect(bed.simulator.callCount('cancel', orderRef)).toBe(1);
    const callback = await session.backToClient(cancelled.body.redirectTo!);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(bed.rp.flow.state);
  });

  it("a login cancelled elsewhere: poll says it is over, and its entry shows the expired page, whose way back carries the login's outcome to a client without a home page", async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    // Another tab of the same browser cancels; the browser has not gone back to the client yet.
    const cancelled = await session.call('cancel');
    const polled = await session.call('poll');
    expect(polled.status).toBe(400);
    expect(polled.body).toMatchObject({ error: 'session_expired' });
    const entry = await bed.rp.browser.request(`/interaction/${session.uid}/`, { headers: { accept: 'text/html' } });
    expect(entry.status).toBe(400);
    const page = await entry.text();
    expect(page).toContain('This login has expired');
    expect(page).not.toContain('/cancel"');
    const wayBack = /<a class="button" href="([^"]+)">/.exec(page)?.[1];
    expect(wayBack).toBe(cancelled.body.redirectTo);
    expect((await session.backToClient(wayBack!)).searchParams.get('error')).toBe('access_denied');
  });
});

describe('polling', () => {
  it('collects at most once per poll_frequency per order, with 10 browsers polling', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    const orderRef = session.orderRef();
    const started = Date.now();
    const pollers = Array.from({ length: 10 }, async () => {
      const statuses: number[] = [];
      while (Date.now() - started < 3_200) {
        statuses.push((await session.call('poll?qr=true')).status);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return statuses;
    });
    const statuses = (await Promise.all(pollers)).flat();
    const elapsedSeconds = (Date.now() - started) / 1000;
    expect(statuses.every((status) => status === 200 || status === 429)).toBe(true);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(10);
    // poll_frequency is 1 s: one collect per whole second, plus the one that may start it.
    expect(bed.simulator.callCount('collect', orderRef)).toBeLessThanOrEqual(Math.floor(elapsedSeconds) + 1);
    expect(bed.simulator.callCount('collect', orderRef)).toBeGreaterThanOrEqual(2);
  });

  it('a poll answered from what the instance holds still carries traceId and the security headers, and checks the cookie every time', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    for (let i = 0; i < 2; i += 1) {
      const answer = await session.call('poll?qr=true');
      expect(answer.status).toBe(200);
      expect(answer.body.qrCode!.svg).toMatch(/^<svg /);
      expect(answer.headers.get('traceid')).toMatch(/^[0-9a-f]{16}$/);
      expect(answer.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(answer.headers.get('x-frame-options')).toBe('DENY');
      expect(answer.headers.get('cache-control')).toBe('no-store');
    }
    // The interaction cookie as this browser sends it, its signature changed in one character.
    const path = `/interaction/${session.uid}/api/poll?qr=true`;
    const cookies = bed.rp.browser.cookieHeader(new URL(path, bed.tb.issuer));
    const forged = cookies.replace(/(_interaction\.sig=)(.)/, (_, name: string, first: string) => `${name}${first === 'A' ? 'B' : 'A'}`);
    expect(forged).not.toBe(cookies);
    const refused = await fetch(new URL(path, bed.tb.issuer), {
      method: 'POST',
      headers: { cookie: forged, 'content-type': 'application/json', accept: 'application/json', origin: bed.tb.issuer },
      body: '{}',
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'session_expired' });
    expect((await session.call('poll?qr=true')).status).toBe(200);
  });

  it("a poll answered directly or on the poll's own stack answers as the API router's poll does, refusals included", async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    const cookie = bed.rp.browser.cookieHeader(new URL(`/interaction/${session.uid}/api/poll`, bed.tb.issuer));
    // The uid with its first character escaped: the same login to the router, no copy of this instance's.
    const routed = `%${session.uid.charCodeAt(0).toString(16).toUpperCase()}${session.uid.slice(1)}`;
    const answeredDirectly = () => bed.tb.broker.metrics.pollsAnsweredDirectly.get().then(({ values }) => values[0]?.value ?? 0);
    const varying = new Set(['date', 'traceid', 'content-length']);
    // Over Node's own client, for the headers as sent: their names as written, in their order.
    const poll = (uid: string, headers: Record<string, string> = {}, body = '{}') =>
      new Promise<{ status: number; headers: string[]; body: Record<string, unknown> & { qrCode?: { payload: string } } }>((resolve, reject) => {
        const sent = request(new URL(`/interaction/${uid}/api/poll?qr=true`, bed.tb.issuer), {
          method: 'POST',
          headers: { cookie, 'content-type': 'application/json', accept: 'application/json', origin: bed.tb.issuer, ...headers },
        });
        sent.on('error', reject);
        sent.end(body);
        sent.on('response', (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const raw = response.rawHeaders;
            const named = raw.flatMap((name, i) => (i % 2 === 0 && !varying.has(name.toLowerCase()) ? [`${name}: ${raw[i + 1]}`] : []));
            resolve({ status: response.statusCode!, headers: named, body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> });
          });
        });
      });
    const withoutQr = ({ qrCode, ...rest }: Record<string, unknown>) => ({ ...rest, qrCode: typeof qrCode });
    const refusals: Array<[Record<string, string>, string?]> = [
      [{}],
      [{ origin: 'https://elsewhere.example' }],
      [{ 'sec-fetch-site': 'cross-site' }],
      [{ 'content-type': 'text/plain' }],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 'a=1'],
      [{ cookie: cookie.replace(/_interaction=[^;]*/, '_interaction=another-login') }],
      [{ cookie: '' }],
    ];
    // The first poll makes the login request the next ones use (the poll's own stack); the
    // second is answered directly, without the app.
    for (const way of ['own stack', 'direct']) {
      const before = await answeredDirectly();
      const own = await poll(session.uid);
      expect(await answeredDirectly(), way).toBe(before + (way === 'direct' ? 1 : 0));
      const router = await poll(routed);
      expect({ ...own, body: withoutQr(own.body) }, way).toEqual({ ...router, body: withoutQr(router.body) });
      expect(own.body.qrCode!.payload).toMatch(/^bankid\./);
      expect(own.headers).toContain('Cache-Control: no-store');
    }
    for (const [headers, body] of refusals) {
      const before = await answeredDirectly();
      const own = await poll(session.uid, headers, body);
      if (own.status !== 200) expect(await answeredDirectly(), JSON.stringify(headers)).toBe(before);
      const router = await poll(routed, headers, body);
      expect({ ...own, body: withoutQr(own.body) }, JSON.stringify(headers)).toEqual({ ...router, body: withoutQr(router.body) });
      if (own.status === 200) expect(own.body.qrCode!.payload).toMatch(/^bankid\./);
      else expect(own.body).toHaveProperty('error');
    }
    // A method the poll's address does not take is the app's to answer, as at the router's address.
    const answerTo = async (method: string, uid: string) => {
      const response = await fetch(new URL(`/interaction/${uid}/api/poll?qr=true`, bed.tb.issuer), { method, headers: { cookie, accept: 'application/json', origin: bed.tb.issuer } });
      return { status: response.status, allow: response.headers.get('allow'), body: (await response.json()) as unknown };
    };
    for (const [method, status] of [['GET', 405], ['PUT', 405], ['PATCH', 405], ['DELETE', 405], ['PROPFIND', 501]] as const) {
      const own = await answerTo(method, session.uid);
      expect(own, method).toEqual(await answerTo(method, routed));
      expect(own, method).toEqual({ status, allow: status === 405 ? 'POST' : null, body: { error: 'invalid_request', error_description: expect.any(String) } });
    }
    // A poll without the Host header HTTP/1.1 requires is the app's to refuse, as at the router's address.
    const withoutHost = async (uid: string) => {
      const { socket, closed } = await rawConnection(Number(new URL(bed.tb.issuer).port));
      const head = [`POST /interaction/${uid}/api/poll?qr=true HTTP/1.1`, `Cookie: ${cookie}`, 'Content-Type: application/json', `Origin: ${bed.tb.issuer}`, 'Content-Length: 2', 'Connection: close'];
      socket.write(`${head.join('\r\n')}\r\n\r\n{}`);
      const [status, ...rest] = (await closed).split('\r\n');
      return { status, body: JSON.parse(rest.slice(rest.indexOf('') + 1).join('')) as unknown };
    };
    const before = await answeredDirectly();
    const own = await withoutHost(session.uid);
    expect(own).toEqual(await withoutHost(routed));
    expect(own).toEqual({ status: 'HTTP/1.1 400 Bad Request', body: { error: 'invalid_request', error_description: expect.stringContaining('Host') } });
    expect(await answeredDirectly()).toBe(before);
  });

  it('a waiting page that changes its language gets the message in it at the next poll', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    const cookie = bed.rp.browser.cookieHeader(new URL(`/interaction/${session.uid}/api/poll`, bed.tb.issuer)).replace(/(^|; )neb_lang=[^;]*/, '');
    const message = async (language: string) => {
      const response = await fetch(new URL(`/interaction/${session.uid}/api/poll?qr=true`, bed.tb.issuer), {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', accept: 'application/json', 'accept-language': language, origin: bed.tb.issuer },
        body: '{}',
      });
      return ((await response.json()) as { message: string }).message;
    };
    expect([await message('sv'), await message('sv'), await message('en'), await message('sv')]).toEqual([
      'Öppna BankID-appen och skanna QR-koden.',
      'Öppna BankID-appen och skanna QR-koden.',
      'Open your BankID app and scan the QR code.',
      'Öppna BankID-appen och skanna QR-koden.',
    ]);
  });

  it("records a poll's outcome only while BankID is still the login's eID in the store, whatever this instance kept", async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    bed.simulator.scanQr((await session.poll()).qrCode!.payload);
    // Another instance starts another eID for this login; this instance still has BankID as its copy.
    const key = `login:eid:${session.uid}`;
    await bed.tb.broker.store.set(key, 'another-eid', 600);
    bed.simulator.approve(session.orderRef(), 0);
    let answer = await session.call('poll');
    for (let attempt = 0; answer.status === 200 && attempt < 40; attempt += 1) {
      expect(answer.body.status).toBe('IN_PROGRESS');
      await new Promise((resolve) => setTimeout(resolve, 250));
      answer = await session.call('poll');
    }
    expect(answer.status).toBe(409);
    expect(answer.body.error).toBe('invalid_request');
    // Back to BankID in the store: the same outcome now ends the login.
    await bed.tb.broker.store.set(key, 'se-bankid', 600);
    const complete = await session.pollUntil((state) => state.status === 'COMPLETE');
    expect(complete.redirectTo!).toContain(`/auth/${session.uid}`);
  });

  it('a poll that arrives while another poll of the order runs gets 429 with Retry-After, counted as the limit poll', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    const refusals = () =>
      bed.tb.broker.metrics.rateLimited.get().then(({ values }) => values.find(({ labels }) => labels.limit === 'poll' && labels.by === 'login')?.value ?? 0);
    const before = await refusals();
    // The next few collects are slow, not just the next one: the orders earlier tests left waiting
    // are still collected in the background (for 10 s after their last poll), and may come first.
    bed.simulator.injectFault('collect', { delayMs: 600 }, 4);
    const [first, second] = await Promise.all([
      session.call('poll?qr=true'),
      new Promise((resolve) => setTimeout(resolve, 100)).then(() => session.call('poll?qr=true')),
    ]);
    expect(first.status).toBe(200);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(second.body.error).toBe('too_many_requests');
    expect(await refusals()).toBe(before + 1);
  });
});

describe('announced changes', () => {
  it('an instance holding the order reads it again for a version it does not show, and not for the one it shows', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    // The first poll reads the order and holds it here from then on.
    expect(await session.poll()).toMatchObject({ hintCode: 'outstandingTransaction' });
    // The eID's namespace in the store is its id.
    const channel = `${bed.tb.prefix}se-bankid:orders`;
    const orderKey = `${bed.tb.prefix}se-bankid:order:${session.uid}`;
    const reads: string[] = [];
    const monitor = await openMonitor();
    const publisher = new Redis(redisUrl);
    monitor.on('monitor', (_time: string, [command = '', key = '']: string[]) => {
      if (command.toLowerCase() === 'hgetall' && key === orderKey) reads.push(key);
    });
    const readsAfter = async (message: string) => {
      reads.length = 0;
      await publisher.publish(channel, message);
      // The read an announcement leads to, if any, within half a second.
      await eventually(() => reads.length > 0, 10, 50).catch(() => undefined);
      return reads.length;
    };
    try {
      expect(await readsAfter(`${session.uid} ${session.orderRef()} outstandingTransaction `)).toBe(0);
      expect(await readsAfter(`${session.uid} ${session.orderRef()} userSign `)).toBe(1);
      // An instance of an earlier release announces the uid alone.
      expect(await readsAfter(session.uid)).toBe(1);
    } finally {
      monitor.disconnect();
      publisher.disconnect();
    }
  });
});

describe('orders left behind', () => {
  it('a new start in the same login cancels the earlier order at BankID', async () => {
    const session = await BankIdSession.begin(bed);
    await session.start('other');
    const first = session.orderRef();
    await session.start('this');
    expect(bed.simulator.callCount('cancel', first)).toBe(1);
    expect(session.orderRef()).not.toBe(first);
  });

  it('twenty starts of one login at once leave one live order: every other one is cancelled at BankID', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    const known = new Set(bed.simulator.orders().map((order) => order.orderRef));
    const ordersBefore = bed.simulator.callCount('auth');
    const answers = await Promise.all(Array.from({ length: 20 }, () => session.call('start', { eid: 'se-bankid' })));
    expect(answers.every((answer) => answer.status === 200 && answer.body.status === 'IN_PROGRESS')).toBe(true);
    expect(bed.simulator.callCount('auth') - ordersBefore).toBe(20);
    // The simulator forgets a cancelled order: what it still knows of is live.
    const live = bed.simulator.orders().filter((order) => !known.has(order.orderRef));
    expect(live.map((order) => order.status)).toEqual(['pending']);
    // The one left is the one the login goes on with.
    const state = await session.poll();
    expect(state.qrCode?.payload).toContain(live[0]!.qrStartToken);
  });

  it('a start racing a cancel from another tab leaves no live order: the login ends as cancelled, and the start is told so', async () => {
    // Each round is a new race: without the start's second look at the login and the cancel's take of the order, most leave one live.
    for (let round = 0; round < 10; round += 1) {
      const session = await BankIdSession.begin(bed, { acr_values: OTHER });
      await session.start();
      const known = new Set(bed.simulator.orders().map((order) => order.orderRef));
      const [cancelled, started] = await Promise.all([session.call('cancel'), session.call('start', { eid: 'se-bankid' })]);
      // The simulator forgets a cancelled order: any new one it still knows of is live.
      expect(bed.simulator.orders().filter((order) => !known.has(order.orderRef))).toEqual([]);
      // The start answers as for a login that is over, or, had it looked before the cancel, with an order the cancel then stopped.
      if (started.status !== 200) expect(started.body).toMatchObject({ error: 'session_expired' });
      expect((await session.call('poll')).body).toMatchObject({ error: 'session_expired' });
      expect((await session.backToClient(cancelled.body.redirectTo!)).searchParams.get('error')).toBe('access_denied');
    }
  });

  it('keeps no personal number in clear in Redis: neither the one a client asked for nor the person an order found', async () => {
    // A person no other test here logs in, so no order of theirs is still running at BankID.
    const person = simulatedPersons.length - 1;
    const personalNumber = simulatedPersons[person]!.personalNumber;
    const session = await BankIdSession.begin(bed, { acr_values: OTHER, login_hint: `personal_number:${personalNumber}` });
    const started = await session.start();
    bed.simulator.scanQr(started.qrCode!.payload);
    await session.pollUntil((s) => s.hintCode === 'userSign');
    bed.simulator.approve(session.orderRef(), person);
    await session.pollUntil((s) => s.status === 'COMPLETE');
    // Completed but not yet carried back to the client: the order holds the person now, and its evidence is kept.
    expect(await bed.tb.broker.store.get(`se-bankid:evidence:${session.orderRef()}`)).toBeDefined();
    expect(await everythingStored(bed.tb.prefix)).not.toContain(personalNumber);
  });

  it('every key an order writes expires, so a closed browser leaves nothing behind', async () => {
    const session = await BankIdSession.begin(bed, { acr_values: OTHER });
    await session.start();
    await session.poll();
    const redis = new Redis(redisUrl);
    try {
      const keys = await redis.keys(`${bed.tb.prefix}se-bankid:*${session.uid}*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(await redis.ttl(key), key).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });
});

describe('the count of open event streams, on a broker of its own that shuts down', () => {
  let own: BankIdTestBed;
  beforeAll(async () => {
    own = await startBankIdTestBed('bankid-stream-count');
  });

  it('neb_event_streams_open rises with each stream and is back at 0 once they close and once the broker shuts down', async () => {
    const open = () => own.tb.broker.metrics.eventStreamsOpen.get().then(({ values }) => values[0]?.value);
    const session = await BankIdSession.begin(own, { acr_values: OTHER });
    await session.start();
    const stream = () => new EventStreamReader(own.rp.browser, own.tb.issuer, `/interaction/${session.uid}/api/events`);
    const first = stream();
    await first.next('qr');
    expect(await open()).toBe(1);
    first.close();
    await eventually(async () => (await open()) === 0);
    const streams = [stream(), stream()];
    await Promise.all(streams.map((reader) => reader.next('qr')));
    expect(await open()).toBe(2);
    await own.tb.broker.shutdown();
    await Promise.all(streams.map((reader) => reader.closedByBroker()));
    expect(await open()).toBe(0);
  });
});
