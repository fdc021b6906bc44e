import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { admin, ADMIN_TOKEN, createClient, loginWorks, startAdminBroker, type AdminAnswer } from './admin-support.js';
import { ClientStore } from '../../src/clients/store.js';

let tb: TestBroker;

beforeAll(async () => {
  tb = await startAdminBroker();
});

const webMetadata = (extra: Record<string, unknown> = {}) => ({
  redirect_uris: ['https://shop.example/callback'],
  post_logout_redirect_uris: ['https://shop.example/'],
  display_name: 'The Shop',
  ...extra,
});

describe('authentication', () => {
  it('refuses a request without the admin token: 401, WWW-Authenticate: Bearer, a JSON error', async () => {
    const answer = await admin(tb.issuer, 'GET', '/admin/clients', undefined, null);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+"$/);
    expect(answer.body).toEqual({ error: 'invalid_token', error_description: expect.stringContaining('Bearer') });
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  it.each([
    ['a wrong token', `${ADMIN_TOKEN.slice(0, -1)}x`],
    ['a shorter token', ADMIN_TOKEN.slice(0, 10)],
    ['a longer token', `${ADMIN_TOKEN}0`],
  ])('refuses %s: 401 with error="invalid_token"', async (_case, token) => {
    for (const [method, path] of [['GET', '/admin/clients'], ['POST', '/admin/clients'], ['DELETE', '/admin/clients/web-app']] as const) {
      const answer = await admin(tb.issuer, method, path, method === 'POST' ? webMetadata() : undefined, token);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(answer.body.error).toBe('invalid_token');
    }
  });

  it('refuses a token sent any other way than as a bearer token', async () => {
    const basic = await fetch(`${tb.issuer}/admin/clients`, { headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` } });
    expect(basic.status).toBe(401);
    const inQuery = await fetch(`${tb.issuer}/admin/clients?access_token=${ADMIN_TOKEN}`);
    expect(inQuery.status).toBe(401);
  });

  it('is off without admin.token: /admin answers 404, like any unknown address', async () => {
    const off = await startTestBroker({}, 'admin-off');
    for (const path of ['/admin/clients', '/admin/openapi.json']) {
      const answer = await admin(off.issuer, 'GET', path);
      expect(answer.status).toBe(404);
      expect(answer.body.error).toBe('not_found');
    }
  });
});

describe('clients', () => {
  it('a created web client gets a generated id and secret, shown once, and logs in at once', async () => {
    const created = await admin(tb.issuer, 'POST', '/admin/clients', webMetadata());
    expect(created.status).toBe(201);
    const { client_id: clientId, client_secret: secret } = created.body as { client_id: string; client_secret: string };
    expect(created.headers.get('location')).toBe(`/admin/clients/${clientId}`);
    expect(secret.length).toBeGreaterThanOrEqual(43);
    expect(created.body).toMatchObject({
      source: 'dynamic',
      application_type: 'web',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      display_name: 'The Shop',
    });

    const shown = await admin(tb.issuer, 'GET', `/admin/clients/${clientId}`);
    expect(shown.status).toBe(200);
    expect(shown.body).not.toHaveProperty('client_secret');
    expect(JSON.stringify(shown.body)).not.toContain(secret);

    await loginWorks(tb.issuer, { client_id: clientId, client_secret: secret, redirect_uris: ['https://shop.example/callback'] });
  });

  it('the picker shows a created client by its display_name', async () => {
    const other = await startAdminBroker({ eids: { 'test-double': {}, 'other-double': {} } }, 'admin-picker');
    const created = await createClient(other.issuer, webMetadata({ display_name: 'Bokhandeln <Norr>' }));
    const rp = await RelyingParty.discover(other.issuer, { ...created, redirect_uris: ['https://shop.example/callback'] });
    const page = await (await rp.authorize()).response.text();
    expect(page).toContain('Bokhandeln &lt;Norr&gt;');
  });

  it('the picker shows a client as it is now: an update shows in the next login (a client is seen the same until it changes)', async () => {
    const other = await startAdminBroker({ eids: { 'test-double': {}, 'other-double': {} } }, 'admin-picker-update');
    const created = await createClient(other.issuer, webMetadata({ display_name: 'Bokhandeln' }));
    const rp = await RelyingParty.discover(other.issuer, { ...created, redirect_uris: ['https://shop.example/callback'] });
    expect(await (await rp.authorize()).response.text()).toContain('Bokhandeln');
    const patched = await admin(other.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { display_name: 'Antikvariatet' });
    expect(patched.status).toBe(200);
    const page = await (await rp.authorize()).response.text();
    expect(page).toContain('Antikvariatet');
    expect(page).not.toContain('Bokhandeln');
  });

  it('a pairwise client gets its own sub for the same person', async () => {
    const publicSub = (await loginWorks(tb.issuer, webClient)).claims()!.sub;
    const pairwise = await createClient(tb.issuer, webMetadata({ subject_type: 'pairwise' }));
    const tokens = await loginWorks(tb.issuer, { ...pairwise, redirect_uris: ['https://shop.example/callback'] });
    expect(tokens.claims()!.sub).not.toBe(publicSub);
  });

  it('takes a client_id the operator chooses, and never gives an id twice, not even after a delete', async () => {
    const created = await createClient(tb.issuer, webMetadata({ client_id: 'chosen-id' }));
    expect(created.client_id).toBe('chosen-id');
    const again = await admin(tb.issuer, 'POST', '/admin/clients', webMetadata({ client_id: 'chosen-id' }));
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('client_exists');

    expect((await admin(tb.issuer, 'DELETE', '/admin/clients/chosen-id')).status).toBe(204);
    const afterDelete = await admin(tb.issuer, 'POST', '/admin/clients', webMetadata({ client_id: 'chosen-id' }));
    expect(afterDelete.status).toBe(409);
    expect(afterDelete.body.error_description).toContain('never reused');
  });

  it('a deleted client is gone at once: 404 here, and an error page (never a redirect) at /auth', async () => {
    const created = await createClient(tb.issuer, webMetadata());
    const rp = await RelyingParty.discover(tb.issuer, { ...created, redirect_uris: ['https://shop.example/callback'] });
    const tokens = await rp.redeem(await logIn(rp, { scope: 'openid offline_access', prompt: 'consent' }));

    expect((await admin(tb.issuer, 'DELETE', `/admin/clients/${created.client_id}`)).status).toBe(204);
    expect((await admin(tb.issuer, 'GET', `/admin/clients/${created.client_id}`)).status).toBe(404);
    expect((await admin(tb.issuer, 'DELETE', `/admin/clients/${created.client_id}`)).status).toBe(404);

    const response = await new TestBrowser(tb.issuer).request(await rp.authorizationUrl(), { headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const refreshed = await tokenRequest(tb.issuer, created, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    expect(refreshed.status).toBe(401);
    expect(refreshed.body.error).toBe('invalid_client');
  });

  it('a client deleted while a person is logging in: the page says the service is not known (not that the login expired), and nothing goes to the client', async () => {
    const created = await createClient(tb.issuer, webMetadata());
    const rp = await RelyingParty.discover(tb.issuer, { ...created, redirect_uris: ['https://shop.example/callback'] });
    const eidPage = (await rp.authorize()).response.url;
    expect(eidPage).toContain('/decide');
    expect((await admin(tb.issuer, 'DELETE', `/admin/clients/${created.client_id}`)).status).toBe(204);

    const response = await rp.browser.request(`${eidPage}?person=0`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const page = await response.text();
    expect(page).toContain('The service you came from is not known to us. Please contact the service.');
    expect(page).not.toContain('This login has expired');
  });

  it('lists static and registered clients in client_id order, a page at a time', async () => {
    const own = await startAdminBroker({}, 'admin-list');
    for (const id of ['list-a', 'list-b', 'list-c']) await createClient(own.issuer, webMetadata({ client_id: id }));
    await admin(own.issuer, 'DELETE', '/admin/clients/list-b');

    const all = await admin(own.issuer, 'GET', '/admin/clients');
    expect(all.status).toBe(200);
    const ids = (all.body.clients as Array<{ client_id: string; source: string }>).map((c) => [c.client_id, c.source]);
    expect(ids).toEqual([
      ['list-a', 'dynamic'],
      ['list-c', 'dynamic'],
      ['spa', 'static'],
      ['web-app', 'static'],
    ]);
    expect(all.body).not.toHaveProperty('next_cursor');
    expect(JSON.stringify(all.body)).not.toContain(webClient.client_secret);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await admin(own.issuer, 'GET', `/admin/clients?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...(page.body.clients as Array<{ client_id: string }>).map((c) => c.client_id));
      cursor = page.body.next_cursor as string | undefined;
    } while (cursor);
    expect(seen).toEqual(['list-a', 'list-c', 'spa', 'web-app']);

    for (const [query, description] of [
      ['limit=0', 'limit: must be at least 1'],
      ['limit=201', 'limit: must be at most 200'],
      ['limit=x', 'limit: must be a whole number, in digits'],
      ['limit=1e1', 'limit: must be a whole number, in digits'],
      ['limit=0x10', 'limit: must be a whole number, in digits'],
      ['limit=%205', 'limit: must be a whole number, in digits'],
      ['limit=2.5', 'limit: must be a whole number, in digits'],
      ['limit=', 'limit: must be a whole number, in digits'],
      ['limit=99999999999999999999999', 'limit: must be at most 200'],
      ['limit=1&limit=2', 'limit: must be given once'],
      ['colour=red', 'colour: unknown parameter'],
      ['limits=2', 'limits: unknown parameter; did you mean limit?'],
    ]) {
      const bad = await admin(own.issuer, 'GET', `/admin/clients?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body, query).toEqual({ error: 'invalid_request', error_description: description });
    }
  });

  it('PATCH changes the fields given (null removes one), PUT replaces the whole client; the secret stays', async () => {
    const created = await createClient(tb.issuer, webMetadata({ allowed_eids: ['test-double'] }));
    const path = `/admin/clients/${created.client_id}`;

    const patched = await admin(tb.issuer, 'PATCH', path, { display_name: 'The New Shop', allowed_eids: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ display_name: 'The New Shop', redirect_uris: ['https://shop.example/callback'] });
    expect(patched.body).not.toHaveProperty('allowed_eids');
    expect(patched.body).not.toHaveProperty('client_secret');

    const replaced = await admin(tb.issuer, 'PUT', path, { redirect_uris: ['https://shop.example/v2/callback'] });
    expect(replaced.status).toBe(200);
    expect(replaced.body).not.toHaveProperty('display_name');
    expect(replaced.body.client_id_issued_at).toBe(created.client_id_issued_at);

    // The old redirect URI is refused at once, and the unchanged secret logs in with the new one.
    const old = await new TestBrowser(tb.issuer).request(
      `/auth?${new URLSearchParams({ client_id: created.client_id, response_type: 'code', scope: 'openid', redirect_uri: 'https://shop.example/callback', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`,
      { headers: { accept: 'text/html' } },
    );
    expect(old.status).toBe(400);
    await loginWorks(tb.issuer, { ...created, redirect_uris: ['https://shop.example/v2/callback'] });

    const renamed = await admin(tb.issuer, 'PATCH', path, { client_id: 'another-id' });
    expect(renamed.status).toBe(400);
    expect(renamed.body.error_description).toMatch(/^client_id: /);
  });

  it('a client that becomes public loses its secret; one that becomes confidential gets one, shown once', async () => {
    const created = await createClient(tb.issuer, webMetadata());
    const path = `/admin/clients/${created.client_id}`;
    const toPublic = await admin(tb.issuer, 'PATCH', path, { token_endpoint_auth_method: 'none' });
    expect(toPublic.status).toBe(200);
    expect(toPublic.body).not.toHaveProperty('client_secret');
    const toConfidential = await admin(tb.issuer, 'PATCH', path, { token_endpoint_auth_method: 'client_secret_post' });
    expect(toConfidential.status).toBe(200);
    expect(toConfidential.body.client_secret).toEqual(expect.any(String));
    expect(toConfidential.body.client_secret).not.toBe(created.client_secret);
  });

  it('rotate-secret issues a new secret; the old one stops working at once', async () => {
    const created = await createClient(tb.issuer, webMetadata());
    const redirect = { redirect_uris: ['https://shop.example/callback'] };
    const rotated = await admin(tb.issuer, 'POST', `/admin/clients/${created.client_id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({ client_id: created.client_id, client_secret: expect.any(String) });
    expect(rotated.body.client_secret).not.toBe(created.client_secret);

    const oldRp = await RelyingParty.discover(tb.issuer, { ...created, ...redirect });
    await expect(oldRp.redeem(await logIn(oldRp))).rejects.toMatchObject({ status: 401, cause: [{ parameters: { error: 'invalid_client' } }] });
    await loginWorks(tb.issuer, { client_id: created.client_id, client_secret: rotated.body.client_secret as string, ...redirect });

    const spa = await createClient(tb.issuer, webMetadata({ token_endpoint_auth_method: 'none' }));
    const none = await admin(tb.issuer, 'POST', `/admin/clients/${spa.client_id}/rotate-secret`);
    expect(none.status).toBe(400);
    expect(none.body.error_description).toContain('no secret');
  });

  it('a client whose refresh_token grant is removed: its refresh tokens are refused with unauthorized_client (RFC 6749 §5.2), not invalid_request', async () => {
    const created = await createClient(tb.issuer, webMetadata({ refresh_tokens_without_consent: true }));
    const rp = await RelyingParty.discover(tb.issuer, { ...created, redirect_uris: ['https://shop.example/callback'] });
    const tokens = await rp.redeem(await logIn(rp));
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const patched = await admin(tb.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { grant_types: ['authorization_code'], refresh_tokens_without_consent: false });
    expect(patched.status).toBe(200);
    await expect(client.refreshTokenGrant(rp.config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'unauthorized_client', error_description: expect.stringContaining('grant type') });
  });

  it("a change that would give the client's people other subs (subject_type, a pairwise client's sector) is refused: its refreshed ID tokens keep the login's sub", async () => {
    const created = await createClient(tb.issuer, webMetadata({ refresh_tokens_without_consent: true }));
    const rp = await RelyingParty.discover(tb.issuer, { ...created, redirect_uris: ['https://shop.example/callback'] });
    const tokens = await rp.redeem(await logIn(rp));
    const toPairwise = await admin(tb.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { subject_type: 'pairwise' });
    expect(toPairwise.status).toBe(400);
    expect(toPairwise.body).toMatchObject({ error: 'invalid_client_metadata', error_description: expect.stringMatching(/^subject_type: this change would give every person another sub/) });
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!);
    expect(refreshed.claims()!.sub).toBe(tokens.claims()!.sub);

    const pairwise = await createClient(tb.issuer, webMetadata({ subject_type: 'pairwise' }));
    const otherHost = await admin(tb.issuer, 'PATCH', `/admin/clients/${pairwise.client_id}`, { redirect_uris: ['https://shop.example.net/callback'] });
    expect(otherHost.status).toBe(400);
    expect(otherHost.body.error_description).toMatch(/^redirect_uris: this change would give every person another sub/);
    const sameHost = await admin(tb.issuer, 'PATCH', `/admin/clients/${pairwise.client_id}`, { redirect_uris: ['https://shop.example/other-callback'] });
    expect(sameHost.status).toBe(200);
  });

  it('PATCH takes a merge patch under its own media type, application/merge-patch+json (RFC 7396), as well as application/json', async () => {
    const created = await createClient(tb.issuer, webMetadata({ allowed_eids: ['test-double'] }));
    const response = await fetch(`${tb.issuer}/admin/clients/${created.client_id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ display_name: 'The Patched Shop', allowed_eids: null }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ display_name: 'The Patched Shop' });
    expect(body).not.toHaveProperty('allowed_eids');
    // Only PATCH: a merge patch is no body for the other requests.
    const created2 = await fetch(`${tb.issuer}/admin/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify(webMetadata()),
    });
    expect(created2.status).toBe(415);
  });

  it('changes to one client are made one at a time: a rotation among parallel PATCHes is never undone (5 rounds)', async () => {
    const created = await createClient(tb.issuer, webMetadata());
    let secret = created.client_secret!;
    for (let round = 0; round < 5; round += 1) {
      const path = `/admin/clients/${created.client_id}`;
      const [rotated, ...patched] = await Promise.all([
        admin(tb.issuer, 'POST', `${path}/rotate-secret`),
        ...Array.from({ length: 5 }, (_, i) => admin(tb.issuer, 'PATCH', path, { display_name: `Round ${round}, change ${i}` })),
      ]);
      for (const answer of [rotated!, ...patched]) {
        expect([200, 409]).toContain(answer.status);
        if (answer.status === 409) expect(answer.body).toMatchObject({ error: 'client_busy', error_description: expect.stringContaining('under way') });
      }
      // A PATCH that read the client before the rotation and wrote it after would bring the old secret back.
      if (rotated!.status === 200) secret = rotated!.body.client_secret as string;
      const introspection = await tokenRequest(tb.issuer, { client_id: created.client_id, client_secret: secret }, { token: 'none' }, '/token/introspection');
      expect(introspection.status, `round ${round}: the secret last answered`).toBe(200);
    }
  });

  it('static clients are shown without their secret, and are read-only', async () => {
    const shown = await admin(tb.issuer, 'GET', '/admin/clients/web-app');
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ client_id: 'web-app', source: 'static', redirect_uris: webClient.redirect_uris });
    expect(JSON.stringify(shown.body)).not.toContain(webClient.client_secret);

    for (const [method, path, body] of [
      ['PATCH', '/admin/clients/web-app', { display_name: 'x' }],
      ['PUT', '/admin/clients/web-app', { redirect_uris: ['https://evil.example/cb'] }],
      ['DELETE', '/admin/clients/web-app', undefined],
      ['POST', '/admin/clients/web-app/rotate-secret', undefined],
    ] as const) {
      const answer = await admin(tb.issuer, method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(409);
      expect(answer.body).toMatchObject({ error: 'read_only_client', error_description: expect.stringContaining('configuration') });
    }
    const taken = await admin(tb.issuer, 'POST', '/admin/clients', webMetadata({ client_id: 'web-app' }));
    expect(taken.status).toBe(409);
    await loginWorks(tb.issuer, webClient);
  });

  it('refuses a body with a __proto__ field, at any depth: its fields are never taken as fields of the client (resource_server, a secretless client)', async () => {
    const client = await createClient(tb.issuer, webMetadata());
    // Parsed, not written as a literal: a literal's __proto__ sets the prototype and is never sent.
    const smuggled = (fields: string) => JSON.parse(`{"redirect_uris":["https://shop.example/callback"],${fields}}`) as Record<string, unknown>;
    const attempts: Array<[string, string, Record<string, unknown>]> = [
      ['POST', '/admin/clients', smuggled('"__proto__":{"resource_server":true}')],
      ['POST', '/admin/clients', smuggled('"client_name#sv":"x","__proto__":{"token_endpoint_auth_method":"none"}')],
      ['PUT', `/admin/clients/${client.client_id}`, smuggled('"__proto__":{"resource_server":true}')],
      ['PATCH', `/admin/clients/${client.client_id}`, JSON.parse('{"__proto__":{"resource_server":true}}') as Record<string, unknown>],
      ['PATCH', `/admin/clients/${client.client_id}`, JSON.parse('{"bankid_requirement":{"__proto__":{"pinCode":true}}}') as Record<string, unknown>],
    ];
    for (const [method, path, body] of attempts) {
      const answer = await admin(tb.issuer, method, path, body);
      expect(answer.status, `${method} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('__proto__') });
    }
    const now = await admin(tb.issuer, 'GET', `/admin/clients/${client.client_id}`);
    expect(now.body.resource_server).toBeUndefined();
    expect(now.body.token_endpoint_auth_method).toBe('client_secret_basic');
  });

  it('a JSON body nested thousands of levels deep is refused as such, not as one that is no JSON object', async () => {
    const levels = 3_000;
    const deep = JSON.parse(`{"redirect_uris":["https://shop.example/callback"],"contacts":${'['.repeat(levels)}${']'.repeat(levels)}}`) as Record<string, unknown>;
    const answer = await admin(tb.issuer, 'POST', '/admin/clients', deep);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('nested more than 32 levels deep') });
  });

  it('a JSON body over the 16 KiB the admin API reads is refused as too large (413), not as one that is no JSON', async () => {
    const answer = await admin(tb.issuer, 'POST', '/admin/clients', webMetadata({ client_name: 'x'.repeat(20_000) }));
    expect(answer.status).toBe(413);
    expect(answer.body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('too large') });
  });

  it('answers 404 for an unknown client and an unknown address, 405 for a wrong method, 501 for an unknown one, 415 for a body that is not JSON', async () => {
    expect((await admin(tb.issuer, 'GET', '/admin/clients/nobody')).status).toBe(404);
    const unknown = await admin(tb.issuer, 'GET', '/admin/nothing-here');
    expect(unknown).toMatchObject({ status: 404, body: { error: 'not_found' } });
    const wrongMethod = await admin(tb.issuer, 'DELETE', '/admin/clients');
    expect(wrongMethod).toMatchObject({ status: 405, body: { error: 'invalid_request', error_description: expect.stringContaining('Allow') } });
    expect(wrongMethod.headers.get('allow')).toBe('HEAD, GET, POST');
    expect(await admin(tb.issuer, 'PROPFIND', '/admin/clients')).toMatchObject({ status: 501, body: { error: 'invalid_request' } });
    const form = await fetch(`${tb.issuer}/admin/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'redirect_uris=https://a.example/cb',
    });
    expect(form.status).toBe(415);
    const broken = await fetch(`${tb.issuer}/admin/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"redirect_uris": [',
    });
    expect(broken.status).toBe(400);
  });
});

describe('names and pages in the languages of the pages (client_name#sv, OpenID Connect Registration §2.1)', () => {
  const staticShop = {
    client_id: 'static-shop',
    client_secret: 'a-secret-of-the-static-shop-0123456789abcdef',
    redirect_uris: ['https://shop.example/callback'],
    client_name: 'The Shop',
    'client_name#sv': 'Butiken',
    'client_name#nb-NO': 'Butikken',
  };
  const inLanguages = {
    client_name: 'The Shop',
    'client_name#sv': 'Butiken',
    'client_name#fi': 'Kauppa',
    'logo_uri#fi': 'https://shop.example/fi/logo.png',
    'policy_uri#sv': 'https://shop.example/sv/integritet',
  };
  let languages: TestBroker;

  beforeAll(async () => {
    languages = await startAdminBroker({ eids: { 'test-double': {}, 'other-double': {} }, clients: [staticShop] }, 'admin-languages');
  });

  /** The picker a person sees for `client` on a page in `locale`. */
  async function picker(client: { client_id: string; client_secret?: string }, locale: string): Promise<string> {
    const rp = await RelyingParty.discover(languages.issuer, { ...client, redirect_uris: ['https://shop.example/callback'] });
    return (await rp.authorize({ ui_locales: locale })).response.text();
  }

  it('are kept, shown, and named on the picker in its language; without one there, the name and pages given without a tag', async () => {
    const created = await createClient(languages.issuer, { redirect_uris: ['https://shop.example/callback'], ...inLanguages });
    expect(created).toMatchObject(inLanguages);
    expect((await admin(languages.issuer, 'GET', `/admin/clients/${created.client_id}`)).body).toMatchObject(inLanguages);

    const swedish = await picker(created, 'sv');
    expect(swedish).toContain('Du loggar in på Butiken.');
    expect(swedish).toContain('href="https://shop.example/sv/integritet"');
    const finnish = await picker(created, 'fi');
    expect(finnish).toContain('Olet kirjautumassa palveluun Kauppa.');
    expect(finnish).toContain('src="https://shop.example/fi/logo.png"');
    expect(finnish).not.toContain('integritet');
    expect(await picker(created, 'da')).toContain('Du logger ind på The Shop.');
  });

  it('a tag with a region or another Norwegian is kept under the page language, the closest of several, and shown there; a patch with one replaces it', async () => {
    const created = await createClient(languages.issuer, {
      redirect_uris: ['https://shop.example/callback'],
      client_name: 'The Shop',
      'client_name#sv-FI': 'Butiken i Finland',
      'client_name#sv-SE': 'Butiken i Sverige',
      'client_name#nn': 'Butikken på nynorsk',
      'client_name#no-NO': 'Butikken',
      'logo_uri#fi-FI': 'https://shop.example/fi/logo.png',
    });
    expect(created).toMatchObject({ 'client_name#sv': 'Butiken i Sverige', 'client_name#nb': 'Butikken', 'logo_uri#fi': 'https://shop.example/fi/logo.png' });
    expect(Object.keys(created).filter((key) => key.includes('-') || /#n[no]$/.test(key))).toEqual([]);
    expect(await picker(created, 'sv')).toContain('Du loggar in på Butiken i Sverige.');
    expect(await picker(created, 'nb')).toContain('Du logger inn på Butikken.');
    expect(await picker(created, 'fi')).toContain('src="https://shop.example/fi/logo.png"');
    const patched = await admin(languages.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { 'client_name#sv-AX': 'Butiken på Åland' });
    expect(patched.body).toHaveProperty('client_name#sv', 'Butiken på Åland');
    expect(await picker(created, 'sv')).toContain('Du loggar in på Butiken på Åland.');
  });

  it("the operator's display_name wins in every language; a merge patch removes a name in one language with null", async () => {
    const created = await createClient(languages.issuer, { redirect_uris: ['https://shop.example/callback'], ...inLanguages });
    await admin(languages.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { display_name: 'Bokhandeln' });
    expect(await picker(created, 'sv')).toContain('Du loggar in på Bokhandeln.');
    const patched = await admin(languages.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { display_name: null, 'client_name#sv': null });
    expect(patched.body).not.toHaveProperty('client_name#sv');
    expect(patched.body).toHaveProperty('client_name#fi', 'Kauppa');
    expect(await picker(created, 'sv')).toContain('Du loggar in på The Shop.');
  });

  it('a static client of the configuration file takes them too, a regional tag under the page language, shown by the admin API and on the picker', async () => {
    expect((await admin(languages.issuer, 'GET', '/admin/clients/static-shop')).body).toMatchObject({ client_name: 'The Shop', 'client_name#sv': 'Butiken', 'client_name#nb': 'Butikken' });
    expect(await picker(staticShop, 'sv')).toContain('Du loggar in på Butiken.');
    expect(await picker(staticShop, 'nb')).toContain('Du logger inn på Butikken.');
    expect(await picker(staticShop, 'en')).toContain('You are logging in to The Shop.');
  });
});

describe('validation errors in plain words', () => {
  it.each([
    [{ redirect_uri: ['https://shop.example/callback'] }, 'redirect_uri: unknown field; did you mean redirect_uris?'],
    // The usual slip: redirect_uri alone. The misspelt field is named, not the list it leaves missing.
    [{ redirect_uris: undefined, redirect_uri: ['https://shop.example/callback'] }, 'redirect_uri: unknown field; did you mean redirect_uris?'],
    [{ alowed_eids: ['test-double'] }, 'alowed_eids: unknown field; did you mean allowed_eids?'],
    [{ colour: 'red' }, 'colour: unknown field'],
    [{ redirect_uris: undefined }, 'redirect_uris: is required'],
    [{ redirect_uris: 'https://shop.example/callback' }, 'redirect_uris: must be a list, not a string'],
    [{ display_name: '' }, 'display_name: must not be empty'],
    [{ display_name: 'x'.repeat(101) }, 'display_name: must have at most 100 characters'],
    [{ client_name: 5 }, 'client_name: must be a string, not a number'],
    [{ application_type: 'Native' }, 'application_type: must be one of "web", "native"; did you mean "native"?'],
    [{ subject_type: 'secret' }, 'subject_type: must be one of "public", "pairwise"'],
    [{ default_ui_locales: ['de'] }, 'default_ui_locales[0]: must be one of "sv", "en", "nb", "fi", "da"'],
    [{ allowed_eids: [''] }, 'allowed_eids[0]: must not be empty'],
    [{ 'client_name#sv': '' }, 'client_name#sv: must not be empty'],
    [{ 'logo_uri#fi': 'http://shop.example/logo.png' }, 'logo_uri#fi: must be an https URL'],
    [{ 'client_name#sv': 'Butiken', 'client_name#sv-SE': '' }, 'client_name#sv-SE: must not be empty'],
    [{ 'client_name#sv_SE': 'Butiken' }, 'client_name#sv_SE: not a language tag as RFC 5646 writes one: client_name#sv-SE'],
    [{ 'client_uri#nb': 'shop.example' }, 'client_uri#nb: must be an http(s) URL'],
    [{ 'client_name#de': 'Der Laden' }, "client_name#de: the broker's pages are in sv, en, nb, fi, da only, so client_name in another language would never be shown: leave it out"],
  ])('%j → "%s"', async (change, description) => {
    const answer = await admin(tb.issuer, 'POST', '/admin/clients', webMetadata(change));
    expect(answer.status).toBe(400);
    expect(answer.body.error_description).toBe(description);
  });

  it('an update too, and a merge patch names the field the same way', async () => {
    const created = await createClient(tb.issuer, webMetadata());
    const refused = await admin(tb.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { redirect_uri: ['https://shop.example/v2'] });
    expect(refused.status).toBe(400);
    expect(refused.body.error_description).toBe('redirect_uri: unknown field; did you mean redirect_uris?');
  });
});

describe('a client stored before a rule it breaks', () => {
  it('keeps working as it did, and the admin API repairs it: an update must meet the rule, one that does is taken', async () => {
    // As a broker of an earlier version stored it: a redirect URI with a trailing space.
    const { client_id: clientId } = await createClient(tb.issuer, webMetadata());
    const clients = new ClientStore(tb.broker.store);
    await clients.upsert(clientId, { ...(await clients.find(clientId)), redirect_uris: ['https://shop.example/callback '] });

    const query = new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: 'https://shop.example/callback ', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    const started = await fetch(`${tb.issuer}/auth?${query}`, { redirect: 'manual' });
    expect(started.status).toBe(303);
    expect(started.headers.get('location')).toMatch(/^\/interaction\//);

    const elsewhere = await admin(tb.issuer, 'PATCH', `/admin/clients/${clientId}`, { display_name: 'The Shop, renamed' });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error_description).toMatch(/^redirect_uris\[0\]: a URL parser reads it as https:\/\/shop\.example\/callback:/);
    const repaired = await admin(tb.issuer, 'PATCH', `/admin/clients/${clientId}`, { redirect_uris: ['https://shop.example/callback'] });
    expect(repaired.status).toBe(200);
    expect(repaired.body.redirect_uris).toEqual(['https://shop.example/callback']);
  });
});

describe('bad metadata is refused with a 400 that names the field', () => {
  it.each([
    [{ redirect_uris: ['http://shop.example/callback'] }, 'invalid_redirect_uri', 'redirect_uris[0]: must use https'],
    [{ redirect_uris: ['https://shop.example/cb', 'com.example.shop:/cb'] }, 'invalid_redirect_uri', 'redirect_uris[1]: a web client redirects to https'],
    [{ redirect_uris: ['https://shop.example/callback#x'] }, 'invalid_redirect_uri', 'redirect_uris[0]: must not contain a fragment'],
    [{ redirect_uris: ['https://user:pw@shop.example/callback'] }, 'invalid_redirect_uri', 'redirect_uris[0]: must not contain a user name'],
    [{ redirect_uris: ['not a uri'] }, 'invalid_redirect_uri', 'redirect_uris[0]: must be an absolute URI'],
    [{ redirect_uris: ['https://evil.example\\@shop.example/callback'] }, 'invalid_redirect_uri', 'redirect_uris[0]: a URL parser reads it as https://evil.example/@shop.example/callback'],
    [{ redirect_uris: ['https://shop.example/callback\n'] }, 'invalid_redirect_uri', 'redirect_uris[0]: a URL parser reads it as https://shop.example/callback:'],
    [{ post_logout_redirect_uris: [' https://shop.example/'] }, 'invalid_client_metadata', 'post_logout_redirect_uris[0]: a URL parser reads it as https://shop.example/:'],
    [{ backchannel_logout_uri: 'https://SHOP.example/logout' }, 'invalid_client_metadata', 'backchannel_logout_uri: a URL parser reads it as https://shop.example/logout:'],
    [{ redirect_uris: [] }, 'invalid_redirect_uri', 'redirect_uris: must have at least one URI'],
    [{ redirect_uris: undefined }, 'invalid_redirect_uri', 'redirect_uris: '],
    [{ post_logout_redirect_uris: ['http://shop.example/'] }, 'invalid_client_metadata', 'post_logout_redirect_uris[0]: must use https'],
    [{ logo_uri: 'http://shop.example/logo.png' }, 'invalid_client_metadata', 'logo_uri: must be an https URL'],
    [{ logo_uri: 'data:image/png;base64,AAAA' }, 'invalid_client_metadata', 'logo_uri: must be an https URL'],
    [{ allowed_eids: ['xx-magic'] }, 'invalid_client_metadata', 'allowed_eids[0]: no eID xx-magic is configured'],
    [{ allowed_eids: [] }, 'invalid_client_metadata', 'allowed_eids: must name at least one eID'],
    [{ allowed_acr_values: ['urn:nordic-eid:xx'] }, 'invalid_client_metadata', 'allowed_acr_values[0]: no configured eID serves'],
    [{ default_ui_locales: ['de'] }, 'invalid_client_metadata', 'default_ui_locales[0]: '],
    [{ display_name: '' }, 'invalid_client_metadata', 'display_name: '],
    [{ subject_type: 'secret' }, 'invalid_client_metadata', 'subject_type: '],
    [{ application_type: 'desktop' }, 'invalid_client_metadata', 'application_type: '],
    [{ grant_types: ['refresh_token'] }, 'invalid_client_metadata', 'grant_types: must include authorization_code'],
    [{ grant_types: ['client_credentials'] }, 'invalid_client_metadata', 'grant_types[0]: '],
    [{ token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata', 'jwks or jwks_uri is mandatory'],
    [{ client_secret: 'a-secret-chosen-by-the-caller-0123456789' }, 'invalid_client_metadata', 'client_secret: is generated by the broker'],
    [{ response_types: ['code id_token'] }, 'invalid_client_metadata', 'response_types: '],
    [{ colour: 'red' }, 'invalid_client_metadata', 'colour: unknown field'],
    [{ bankid_requirement: { pinCode: true } }, 'invalid_client_metadata', 'bankid_requirement: unknown field'],
    [{ client_id: 'has spaces' }, 'invalid_client_metadata', 'client_id: '],
    [
      { subject_type: 'pairwise', redirect_uris: ['https://a.example/cb', 'https://b.example/cb'] },
      'invalid_client_metadata',
      'sector_identifier_uri is mandatory',
    ],
  ])('%j → %s "%s…"', async (change, error, description) => {
    const answer = await admin(tb.issuer, 'POST', '/admin/clients', webMetadata(change));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe(error);
    expect(answer.body.error_description).toContain(description);
    expect(String(answer.body.error_description).startsWith(description.split(':')[0]!)).toBe(true);
  });

  it('web clients may redirect to a loopback address over http, for development', async () => {
    for (const uri of ['http://127.0.0.1:8080/callback', 'http://localhost:3001/cb', 'http://[::1]/cb']) {
      expect((await admin(tb.issuer, 'POST', '/admin/clients', webMetadata({ redirect_uris: [uri] }))).status, uri).toBe(201);
    }
  });

  it('an update is checked the same way, and a refused update changes nothing', async () => {
    const created = await createClient(tb.issuer, webMetadata());
    const refused = await admin(tb.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { redirect_uris: ['http://shop.example/cb'] });
    expect(refused.status).toBe(400);
    expect(refused.body.error_description).toMatch(/^redirect_uris\[0\]: must use https/);
    const shown = await admin(tb.issuer, 'GET', `/admin/clients/${created.client_id}`);
    expect(shown.body.redirect_uris).toEqual(['https://shop.example/callback']);
  });
});

describe('initial access tokens for dynamic registration', () => {
  it('are refused while registration is off', async () => {
    const answer = await admin(tb.issuer, 'POST', '/admin/initial-access-tokens', {});
    expect(answer.status).toBe(409);
    expect(answer.body.error).toBe('registration_disabled');
  });
});

describe('the OpenAPI document', () => {
  let document: Record<string, unknown>;

  beforeAll(async () => {
    const response = await fetch(`${tb.issuer}/admin/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    document = (await response.json()) as Record<string, unknown>;
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it("describes the API's actual answers", async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema(document, 'admin');
    const check = (answer: AdminAnswer, schema: string) => {
      const valid = ajv.validate({ $ref: `admin#/components/schemas/${schema}` }, answer.body);
      expect(valid, `${schema}: ${JSON.stringify(ajv.errors)} in ${JSON.stringify(answer.body)}`).toBe(true);
    };
    const created = await admin(tb.issuer, 'POST', '/admin/clients', webMetadata({ allowed_eids: ['test-double'], default_ui_locales: ['sv'] }));
    check(created, 'ClientWithSecret');
    const id = created.body.client_id as string;
    check(await admin(tb.issuer, 'GET', `/admin/clients/${id}`), 'Client');
    check(await admin(tb.issuer, 'GET', '/admin/clients/web-app'), 'Client');
    check(await admin(tb.issuer, 'GET', '/admin/clients?limit=2'), 'ClientList');
    check(await admin(tb.issuer, 'PATCH', `/admin/clients/${id}`, { logo_uri: 'https://shop.example/logo.png' }), 'ClientWithSecret');
    check(await admin(tb.issuer, 'POST', `/admin/clients/${id}/rotate-secret`), 'RotatedSecret');
    for (const error of [
      await admin(tb.issuer, 'GET', '/admin/clients', undefined, null),
      await admin(tb.issuer, 'GET', '/admin/clients/nobody'),
      await admin(tb.issuer, 'POST', '/admin/clients', { redirect_uris: ['http://x.example/'] }),
      await admin(tb.issuer, 'DELETE', '/admin/clients/spa'),
    ]) {
      check(error, 'Error');
    }
    // The request schemas accept what the API accepts, and refuse what it refuses.
    expect(ajv.validate({ $ref: 'admin#/components/schemas/ClientCreate' }, webMetadata({ allowed_eids: ['test-double'] }))).toBe(true);
    expect(ajv.validate({ $ref: 'admin#/components/schemas/ClientCreate' }, webMetadata({ client_secret: 'x' }))).toBe(false);
    expect(ajv.validate({ $ref: 'admin#/components/schemas/ClientPatch' }, { display_name: null })).toBe(true);
  });

  it("ClientPatch's null for each field is accepted by the schema exactly when PATCH accepts it", async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema(document, 'admin');
    const patch = (document.components as { schemas: Record<string, { properties: Record<string, unknown> }> }).schemas.ClientPatch!;
    const created = await createClient(tb.issuer, webMetadata({ allowed_eids: ['test-double'] }));
    const disagreements: string[] = [];
    for (const field of Object.keys(patch.properties).filter((name) => name !== 'client_id')) {
      const schemaAccepts = ajv.validate({ $ref: 'admin#/components/schemas/ClientPatch' }, { [field]: null });
      const answer = await admin(tb.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { [field]: null });
      if (schemaAccepts !== (answer.status === 200)) disagreements.push(`${field}: schema ${schemaAccepts}, API ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    expect(disagreements).toEqual([]);
    expect((await admin(tb.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { redirect_uris: null })).body).toEqual({
      error: 'invalid_redirect_uri',
      error_description: 'redirect_uris: must be a list, not null',
    });
  });

  it('documents every route the API serves, and the fields the configured eIDs declare', async () => {
    const paths = Object.keys(document.paths as object);
    expect(paths).toEqual(
      expect.arrayContaining(['/admin/clients', '/admin/clients/{client_id}', '/admin/clients/{client_id}/rotate-secret', '/admin/initial-access-tokens']),
    );
    const bankid = await startAdminBroker({ eids: { 'test-double': {}, 'se-bankid': { mode: 'simulator' } } }, 'admin-openapi');
    const withBankId = (await (await fetch(`${bankid.issuer}/admin/openapi.json`)).json()) as {
      components: { schemas: { ClientCreate: { properties: Record<string, { properties?: object }> } } };
    };
    expect(withBankId.components.schemas.ClientCreate.properties.bankid_requirement?.properties).toHaveProperty('pinCode');
  });
});
