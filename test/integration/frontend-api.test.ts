import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { RelyingParty } from '../support/relying-party.js';

let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  tb = await startTestBroker(
    {
      clients: [
        {
          ...webClient,
          display_name: 'The Shop',
          logo_uri: 'https://shop.example/logo.png',
          policy_uri: 'https://shop.example/privacy?lang=en&v=2',
          tos_uri: 'https://shop.example/terms',
        },
      ],
      eids: { 'test-double': { acr_values: ['urn:test:se'], page_settings: { qr_size: 280 } }, 'other-double': { country: 'NO', acr_values: ['urn:test:no'] } },
      ui: {
        support_email: 'help@broker.example',
        show_contact: true,
        overrides: { messages: { en: { 'picker.title': 'Pick your eID' } }, css: '.card { border-color: teal; }', content: { footer: { en: 'Run by Example AB' } } },
      },
    },
    'frontend-api',
  );
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

async function interaction() {
  const { response } = await rp.authorize();
  return new URL(response.url).pathname;
}

const get = async (path: string) => {
  const response = await rp.browser.request(path, { headers: { accept: 'application/json' } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('the frontend JSON API', () => {
  it("GET ui: the client, the eIDs offered with their acr values, availability and page settings, and the locale", async () => {
    const { body } = await get(`${await interaction()}/api/ui`);
    expect(body).toEqual({
      client: {
        display_name: 'The Shop',
        logo_uri: 'https://shop.example/logo.png',
        policy_uri: 'https://shop.example/privacy?lang=en&v=2',
        tos_uri: 'https://shop.example/terms',
      },
      eids: [
        { id: 'test-double', country: 'SE', acr: ['urn:test:se'], display_name: 'test-double', available: true, settings: { qr_size: 280 } },
        { id: 'other-double', country: 'NO', acr: ['urn:test:no'], display_name: 'other-double', available: true },
      ],
      locale: 'en',
    });
  });

  it("an eID's start fields it asks to remember come back with it in GET ui, for the browser session, that eID's only", async () => {
    const path = await interaction();
    const offered = async (at: string) => ((await get(`${at}/api/ui`)).body.eids as Array<Record<string, unknown>>).map((eid) => eid.remembered);
    expect(await offered(path)).toEqual([undefined, undefined]);
    const started = await rp.browser.request(`${path}/api/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eid: 'test-double', pace: 'brisk' }),
    });
    expect(started.status).toBe(200);
    expect(await offered(await interaction())).toEqual([{ pace: 'brisk' }, undefined]);
  });

  it('GET contact and GET overrides', async () => {
    const path = await interaction();
    expect((await get(`${path}/api/contact`)).body).toEqual({ email: 'help@broker.example', show: true });
    expect((await get(`${path}/api/overrides`)).body).toMatchObject({ css: '.card { border-color: teal; }', content: { footer: { en: 'Run by Example AB' } } });
  });

  it("refuses a start whose field does not fit the eID's, naming the field", async () => {
    const response = await rp.browser.request(`${await interaction()}/api/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ eid: 'test-double', pace: 'sideways' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/^pace: /) });
  });

  it('a remembered choice another site planted, or one altered, is not believed', async () => {
    const path = await interaction();
    const planted = Buffer.from(JSON.stringify({ 'test-double': { pace: 'steady' } })).toString('base64url');
    const url = new URL(`${path}/api/ui`, tb.issuer);
    const ownCookies = rp.browser.cookieHeader(url).split('; ').filter((cookie) => !cookie.startsWith('neb_remembered'));
    for (const forged of [[`neb_remembered=${planted}`], [`neb_remembered=${planted}`, 'neb_remembered.sig=AAAAAAAAAAAAAAAAAAAAAAAAAAA']]) {
      const response = await fetch(url, { headers: { accept: 'application/json', cookie: [...ownCookies, ...forged].join('; ') } });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { eids: Array<Record<string, unknown>> }).eids[0]!.remembered).toBeUndefined();
    }
  });

  it('GET /api/status: OK while every eID can take logins, ISSUES naming the one that cannot', async () => {
    expect(await (await fetch(`${tb.issuer}/api/status`)).json()).toEqual({
      status: 'OK',
      store: { available: true },
      eids: { 'test-double': { available: true }, 'other-double': { available: true } },
    });
    tb.broker.operations.setAvailable('other-double', false);
    try {
      expect(await (await fetch(`${tb.issuer}/api/status`)).json()).toEqual({
        status: 'ISSUES',
        store: { available: true },
        eids: { 'test-double': { available: true }, 'other-double': { available: false } },
      });
      const picker = await (await rp.browser.request(await interaction())).text();
      expect(picker).toMatch(/value="other-double" class="eid" disabled>other-double \(not available right now\)/);
    } finally {
      tb.broker.operations.setAvailable('other-double', true);
    }
  });

  it('a method an address does not take: 405 naming those it takes in Allow, 501 for one the broker takes nowhere, each as every error is', async () => {
    const path = await interaction();
    const cases = [
      ...['PUT', 'POST', 'PATCH', 'DELETE'].map((method) => [method, `${path}/api/events`, 405, 'HEAD, GET'] as const),
      ['GET', `${path}/api/poll`, 405, 'POST'],
      ['PUT', '/api/status', 405, 'HEAD, GET'],
      ['PROPFIND', `${path}/api/poll`, 501, null],
      ['PROPFIND', `${path}/api/nothing`, 501, null],
      ['PROPFIND', '/token', 501, null],
      ['PROPFIND', '/nothing-here', 501, null],
    ] as const;
    for (const [method, at, status, allow] of cases) {
      const response = await rp.browser.request(at, { method, headers: { accept: 'application/json' } });
      const label = `${method} ${at}`;
      expect(response.status, label).toBe(status);
      expect(response.headers.get('allow'), label).toBe(allow);
      expect(response.headers.get('traceid'), label).toMatch(/^[0-9a-f]{16}$/);
      expect(await response.json(), label).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('method') });
    }
  });

  // Its errors were sent with no Cache-Control at all, while its answers and every page had
  // no-store: a 404 or 405 is an answer a cache may keep by itself (RFC 9110 §15.1).
  it('its errors are never cached either, as its answers are not', async () => {
    const path = await interaction();
    const stranger = { headers: { accept: 'application/json' } };
    const cases = [
      ['GET', `${tb.issuer}${path}/api/ui`, 400, stranger],
      ['GET', `${path}/api/nothing`, 404],
      ['GET', `${path}/api/poll`, 405],
      ['POST', `${path}/api/start`, 415],
      ['GET', '/nothing-here', 404],
    ] as const;
    for (const [method, at, status, plain] of cases) {
      const response = plain ? await fetch(at, plain) : await rp.browser.request(at, { method, headers: { accept: 'application/json', 'content-type': 'text/plain' }, ...(method === 'POST' ? { body: '{}' } : {}) });
      const label = `${method} ${at}`;
      expect(response.status, label).toBe(status);
      expect(response.headers.get('cache-control'), label).toBe('no-store');
      expect(await response.json(), label).toMatchObject({ error: expect.any(String) });
    }
  });
});

describe('the pages', () => {
  it('a person can switch language, and the choice is remembered', async () => {
    const path = await interaction();
    const finnish = await (await rp.browser.request(`${path}?lang=fi`)).text();
    expect(finnish).toContain('<html lang="fi">');
    expect(finnish).toContain('Valitse tunnistustapa');
    const again = await (await rp.browser.request(path)).text();
    expect(again).toContain('<html lang="fi">');
    expect(again).toContain('aria-current="true">Suomi</a>');
    await rp.browser.request(`${path}?lang=en`);
  });

  it('show the client logo and the links to its privacy policy and terms, the operator text overrides and stylesheet', async () => {
    const page = await (await rp.browser.request(await interaction())).text();
    expect(page).toContain('<img src="https://shop.example/logo.png" alt="Logo of The Shop"');
    // OpenID Connect Dynamic Client Registration §2: the provider should show the client's policy and terms.
    expect(page).toContain('<a href="https://shop.example/privacy?lang=en&amp;v=2" target="_blank" rel="noopener">How The Shop uses your data</a>');
    expect(page).toContain('<a href="https://shop.example/terms" target="_blank" rel="noopener">The Shop&#39;s terms of service</a>');
    expect(page).toContain('<h1>Pick your eID</h1>');
    expect(page).toContain('href="/static/overrides.css"');
    expect(await (await fetch(`${tb.issuer}/static/overrides.css`)).text()).toBe('.card { border-color: teal; }');
  });

  it('an error inside a login offers the way back to the service, and the support contact', async () => {
    const path = await interaction();
    const refused = await rp.browser.submit(`${path}/select`, { eid: 'nope' });
    const page = await refused.response.text();
    expect(refused.response.status).toBe(400);
    expect(page).toContain(`<form method="post" action="${path}/cancel">`);
    expect(page).toContain('href="mailto:help@broker.example"');
    const { leftTo } = await rp.browser.submit(`${path}/cancel`, {});
    expect(leftTo?.searchParams.get('error')).toBe('access_denied');
  });
});
