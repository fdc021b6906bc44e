import { beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../../../test/support/browser.js';
import { startTestBroker, webClient } from '../../../test/support/broker.js';
import { RelyingParty } from '../../../test/support/relying-party.js';
import { simulatedPersons } from '../simulator/persons.js';
import { BankIdSession, type BankIdTestBed } from './support.js';

/**
 * mode: simulator, as `npm start` runs it: the plugin starts its own simulator, and the person
 * acts only through the simulated app's page, as a newcomer would by hand.
 */
let bed: Omit<BankIdTestBed, 'simulator'>;

beforeAll(async () => {
  const tb = await startTestBroker({ eids: { 'se-bankid': { mode: 'simulator', poll_frequency: 1 } } }, 'bankid-simulator-mode');
  bed = { tb, rp: await RelyingParty.discover(tb.issuer, webClient) };
});

/**
 * The simulated phone: its page, and the buttons on it. `which` picks among the forms of that
 * action (the newest order's is last); `chosen` are what the person picks in the form's lists.
 */
async function pressOnApp(
  app: TestBrowser,
  pageUrl: string,
  action: string,
  which: (html: string) => boolean = () => true,
  chosen: Record<string, string> = {},
  newest = false,
) {
  const page = await (await app.request(pageUrl)).text();
  const forms = [...page.matchAll(/<form method="post" action="([^"]+)">(.*?)<\/form>/gs)].filter(
    ([, formAction, inner]) => formAction === action && which(inner!),
  );
  const form = newest ? forms.at(-1) : forms[0];
  if (!form) throw new Error(`no ${action} button on the app page:\n${page}`);
  const fields = Object.fromEntries([...form[2]!.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  return app.request(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, ...chosen }).toString(),
  });
}

describe('simulated Swedish BankID, as npm start runs it', () => {
  it('on another device: the app page scans the QR code and identifies the person', async () => {
    // A person finds the app's address in the same-device launch link (or the broker's log).
    const sameDevice = await BankIdSession.begin(bed as BankIdTestBed, { acr_values: 'urn:nordic-eid:se:bankid:same-device' });
    const appUrl = new URL((await sameDevice.start()).launchUrl!);
    await sameDevice.call('cancel');

    const session = await BankIdSession.begin(bed as BankIdTestBed, { acr_values: 'urn:nordic-eid:se:bankid:other-device' });
    const started = await session.start();
    expect(started.qrCode).toBeDefined();
    const person = simulatedPersons[3]!;

    const app = new TestBrowser(appUrl.origin);
    expect((await pressOnApp(app, '/app', '/app/scan')).status).toBe(303);
    await session.pollUntil((s) => s.hintCode === 'userSign');
    expect((await pressOnApp(app, '/app', '/app/identify', (inner) => inner.includes(person.personalNumber))).status).toBe(303);

    const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
    const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
    expect(tokens.claims()).toMatchObject({ personal_number: person.personalNumber, acr: 'urn:nordic-eid:se:bankid:other-device' });
  });

  it('on this device: the launch link opens the app, which sends the person back through the returnUrl', async () => {
    const session = await BankIdSession.begin(bed as BankIdTestBed, { acr_values: 'urn:nordic-eid:se:bankid:same-device' });
    const launch = new URL((await session.start()).launchUrl!);
    expect(launch.pathname).toBe('/app');

    const app = new TestBrowser(launch.origin);
    const opened = await app.request(launch.pathname + launch.search);
    expect(opened.status).toBe(303);
    const identified = await pressOnApp(app, '/app', '/app/identify');
    // The form stays on the app's origin; the app's next page sends the person to the returnUrl.
    const after = await (await app.request(identified.headers.get('location')!)).text();
    const returnUrl = new URL(/<meta http-equiv="refresh" content="0; url=([^"]+)">/.exec(after)![1]!.replaceAll('&amp;', '&'));
    expect(returnUrl.pathname).toBe(`/interaction/${session.uid}/se-bankid/return`);

    const back = await bed.rp.browser.request(returnUrl.pathname + returnUrl.search);
    expect(back.status).toBe(200);
    // The BankID page again, which picks up the order under way.
    expect(await back.text()).toContain(`data-uid="${session.uid}"`);
    const complete = await session.pollUntil((s) => s.status === 'COMPLETE');
    const tokens = await bed.rp.redeem(await session.backToClient(complete.redirectTo!));
    expect(tokens.claims()).toMatchObject({ personal_number: simulatedPersons[0]!.personalNumber, acr: 'urn:nordic-eid:se:bankid:same-device' });
  });

  it.each([
    ['/app/fail', { hintCode: 'certificateErr' }, 'RFA16'],
    ['/app/expire', {}, 'RFA8'],
  ])('an ending chosen on the app page (%s) reaches the broker as BankID would send it', async (action, fields, messageCode) => {
    const session = await BankIdSession.begin(bed as BankIdTestBed, { acr_values: 'urn:nordic-eid:se:bankid:same-device' });
    const launch = new URL((await session.start()).launchUrl!);
    const app = new TestBrowser(launch.origin);
    await app.request(launch.pathname + launch.search);
    expect((await pressOnApp(app, '/app', action, () => true, fields, true)).status).toBe(303);
    const ended = await session.pollUntil((s) => s.status === 'ERROR');
    expect(ended.messageCode).toBe(messageCode);
  });

  it('an RP API error chosen on the app page reaches the broker as BankID would send it', async () => {
    const earlier = await BankIdSession.begin(bed as BankIdTestBed);
    const app = new TestBrowser(new URL((await earlier.start('this')).launchUrl!).origin);
    await earlier.call('cancel');
    const injected = await app.request('/app/fault', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ endpoint: 'auth', errorCode: 'alreadyInProgress' }).toString(),
    });
    expect(injected.status).toBe(303);
    const session = await BankIdSession.begin(bed as BankIdTestBed);
    expect(await session.start('other')).toMatchObject({ status: 'ERROR', messageCode: 'RFA4' });
  });

  it('is refused in a production configuration unless explicitly allowed', async () => {
    await expect(
      startTestBroker({ issuer: 'https://id.example.com', eids: { 'se-bankid': { mode: 'simulator' } } }, 'bankid-prod'),
    ).rejects.toThrow(/eids\.se-bankid\.mode: simulator is refused in a production configuration/);
  });
});
