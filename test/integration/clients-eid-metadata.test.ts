import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthRequest } from '../../providers/se-bankid/api/types.js';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { BankIdSession, bankIdSection } from '../../providers/se-bankid/test/support.js';
import { publicClient, webClient, type TestBroker } from '../support/broker.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { admin, createClient, startAdminBroker } from './admin-support.js';

/**
 * Client metadata beyond OIDC reaching the login: an eID's own fields (Swedish BankID's
 * bankid_requirement), allowed_acr_values and default_ui_locales.
 */

const OTHER_DEVICE = 'urn:nordic-eid:se:bankid:other-device';
const redirect = { redirect_uris: ['https://shop.example/callback'] };

describe("a client's bankid_requirement reaches BankID", () => {
  let simulator: BankIdSimulator;
  let tb: TestBroker;

  beforeAll(async () => {
    const pki = await createTestPki();
    simulator = await startBankIdSimulator({ pki });
    tb = await startAdminBroker(
      {
        clients: [
          webClient,
          publicClient,
          { ...webClient, client_id: 'static-with-requirement', bankid_requirement: { certificatePolicies: ['1.2.752.78.1.5'] } },
        ],
        eids: { 'se-bankid': bankIdSection(simulator, pki, { requirement: { pinCode: true } }) },
      },
      'clients-bankid',
    );
  });
  afterAll(() => simulator.close());

  /**
   * Starts a BankID login for the client (on another device), in a plain URL or pushed by the
   * client (PAR), and returns the requirement BankID was sent.
   */
  async function requirementSent(registration: { client_id: string; client_secret?: string; redirect_uris: string[] }, params: Record<string, string> = {}, request: 'plain' | 'pushed' = 'plain') {
    const rp = await RelyingParty.discover(tb.issuer, registration);
    const all = { acr_values: OTHER_DEVICE, ...params };
    const session = await BankIdSession.beginAt({ simulator, tb, rp }, request === 'pushed' ? await rp.pushedAuthorizationUrl(all) : await rp.authorizationUrl(all));
    const started = await session.start();
    expect(started.status).toBe('IN_PROGRESS');
    return (simulator.lastRequest('auth') as AuthRequest).requirement;
  }

  it('a client without one gets the configured requirement', async () => {
    expect(await requirementSent(webClient)).toEqual({ pinCode: true });
  });

  it("an admin-created client's requirement is merged over the configured one, which it may tighten but never loosen", async () => {
    const created = await createClient(tb.issuer, { ...redirect, bankid_requirement: { mrtd: true, cardReader: 'class1', pinCode: false } });
    expect(created.bankid_requirement).toEqual({ mrtd: true, cardReader: 'class1', pinCode: false });
    expect(await requirementSent({ ...created, ...redirect })).toEqual({ pinCode: true, mrtd: true, cardReader: 'class1' });

    // With a personal-number hint the client proved (pushed), both apply.
    expect(await requirementSent({ ...created, ...redirect }, { login_hint: 'personal_number:198112189876' }, 'pushed')).toEqual({
      pinCode: true,
      mrtd: true,
      cardReader: 'class1',
      personalNumber: '198112189876',
    });

    // A change is live at the next login.
    const patched = await admin(tb.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { bankid_requirement: { cardReader: 'class2' } });
    expect(patched.status).toBe(200);
    expect(await requirementSent({ ...created, ...redirect })).toEqual({ pinCode: true, cardReader: 'class2' });
  });

  it("a static client's requirement from the configuration file reaches BankID too", async () => {
    expect(await requirementSent({ ...webClient, client_id: 'static-with-requirement' })).toEqual({
      pinCode: true,
      certificatePolicies: ['1.2.752.78.1.5'],
    });
  });

  it.each([
    [{ cardReader: 'class3' }, 'bankid_requirement.cardReader: '],
    [{ personalNumber: '198112189876' }, 'bankid_requirement.personalNumber: unknown key'],
    [{ certificatePolicies: ['not an oid'] }, 'bankid_requirement.certificatePolicies[0]: must be policy OIDs'],
    ['pinCode', 'bankid_requirement: '],
  ])('a bad bankid_requirement %j is refused naming the field', async (requirement, description) => {
    const answer = await admin(tb.issuer, 'POST', '/admin/clients', { ...redirect, bankid_requirement: requirement });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_client_metadata');
    expect(answer.body.error_description).toMatch(new RegExp(`^${description.replace(/[.[\]]/g, '\\$&')}`));
  });
});

describe('allowed_acr_values', () => {
  let tb: TestBroker;

  beforeAll(async () => {
    tb = await startAdminBroker(
      { eids: { 'test-double': { acr_values: ['urn:test:any', 'urn:test:strong'] }, 'other-double': {} } },
      'clients-acr',
    );
  });

  async function clientWith(metadata: Record<string, unknown>) {
    const created = await createClient(tb.issuer, { ...redirect, ...metadata });
    return RelyingParty.discover(tb.issuer, { ...created, ...redirect });
  }

  it('without acr_values, the eID runs with an allowed value, and an eID with none allowed is not offered', async () => {
    const rp = await clientWith({ allowed_acr_values: ['urn:test:strong'] });
    const started = await rp.authorize();
    expect(started.response.url).toContain('/test-double/decide');
    expect(await started.response.json()).toEqual({ waiting: 'for the person', acr: 'urn:test:strong' });
    const { leftTo } = await rp.browser.follow(`${started.response.url}&person=0`);
    const tokens = await rp.redeem(leftTo!);
    expect(tokens.claims()?.acr).toBe('urn:test:strong');
  });

  it('asking only for values the client may not use is refused with unauthorized_client', async () => {
    const rp = await clientWith({ allowed_acr_values: ['urn:test:strong'] });
    for (const acr of ['urn:test:any', 'urn:test:other-double']) {
      const { leftTo } = await rp.authorize({ acr_values: acr });
      expect(leftTo?.origin).toBe('https://shop.example');
      expect(leftTo?.searchParams.get('error')).toBe('unauthorized_client');
    }
  });

  it('of several values asked for, the first one allowed is used', async () => {
    const rp = await clientWith({ allowed_acr_values: ['urn:test:strong'] });
    const started = await rp.authorize({ acr_values: 'urn:test:any urn:test:strong' });
    expect(await started.response.json()).toMatchObject({ acr: 'urn:test:strong' });
  });

  it('the picker offers the eIDs with an allowed value, and only those', async () => {
    const both = await clientWith({ allowed_acr_values: ['urn:test:any', 'urn:test:other-double'] });
    const picker = await (await both.authorize()).response.text();
    expect(picker).toContain('value="test-double"');
    expect(picker).toContain('value="other-double"');

    const one = await clientWith({ allowed_acr_values: ['urn:test:other-double'] });
    expect((await one.authorize()).response.url).toContain('/other-double/decide');
  });

  it('must name configured acr values of allowed eIDs', async () => {
    const answer = await admin(tb.issuer, 'POST', '/admin/clients', {
      ...redirect,
      allowed_eids: ['other-double'],
      allowed_acr_values: ['urn:test:strong'],
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error_description).toBe("allowed_acr_values[0]: urn:test:strong is test-double's, which allowed_eids leaves out");
  });
});

describe('default_ui_locales and display names', () => {
  let tb: TestBroker;

  beforeAll(async () => {
    tb = await startAdminBroker({ eids: { 'test-double': {}, 'other-double': {} } }, 'clients-locale');
  });

  it("the pages speak the client's default language unless the request asks for another", async () => {
    const created = await createClient(tb.issuer, { ...redirect, default_ui_locales: ['sv'] });
    const rp = await RelyingParty.discover(tb.issuer, { ...created, ...redirect });
    rp.browser.headers.set('accept-language', 'en');
    expect(await (await rp.authorize()).response.text()).toContain('<html lang="sv">');
    expect(await (await rp.authorize({ ui_locales: 'da' })).response.text()).toContain('<html lang="da">');
  });

  it('a registered client without display_name is shown by its client_name', async () => {
    const created = await createClient(tb.issuer, { ...redirect, client_name: 'Named by RFC 7591' });
    const rp = await RelyingParty.discover(tb.issuer, { ...created, ...redirect });
    expect(await (await rp.authorize()).response.text()).toContain('Named by RFC 7591');
  });

  it('a change of allowed_eids counts from the next authorization request', async () => {
    const created = await createClient(tb.issuer, { ...redirect, allowed_eids: ['other-double'] });
    const rp = await RelyingParty.discover(tb.issuer, { ...created, ...redirect });
    expect((await rp.authorize()).response.url).toContain('/other-double/decide');
    await admin(tb.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { allowed_eids: ['test-double'] });
    const callback = await logIn(rp);
    expect(callback.searchParams.get('code')).toBeTruthy();
  });
});
