import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBroker } from '../support/broker.js';
import { TestBrowser } from '../support/browser.js';
import { spawnBroker, writeConfig, type BrokerProcess } from '../support/process.js';
import { deleteKeysWithPrefix, findFreePort, redisUrl, uniquePrefix } from '../support/redis.js';
import { admin, ADMIN_TOKEN, createClient, loginWorks, startAdminBroker } from './admin-support.js';

/**
 * Two broker processes on one Redis: this test's own (with the test-double eID) and a second
 * one started as `npm start` runs it. A client created, changed or deleted through either is
 * served that way by both at once, and clients outlive a restart.
 */

const prefix = uniquePrefix('clients-shared');
let first: TestBroker;
let second: { process: BrokerProcess; issuer: string; start(): Promise<void> };

beforeAll(async () => {
  first = await startAdminBroker({ redis: { url: redisUrl, key_prefix: prefix } }, 'clients-shared');
  const port = await findFreePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config = writeConfig(
    'broker.json',
    JSON.stringify({ issuer, port, redis: { url: redisUrl, key_prefix: prefix }, admin: { token: ADMIN_TOKEN }, eids: { 'fi-ftn': { mode: 'simulator' } }, log: { level: 'info' } }),
  );
  second = {
    issuer,
    process: undefined as unknown as BrokerProcess,
    async start() {
      this.process = spawnBroker({ BROKER_CONFIG: config });
      await this.process.listening();
    },
  };
  await second.start();
}, 60_000);

afterAll(async () => {
  await second.process.stop();
  await deleteKeysWithPrefix(prefix);
});

/**
 * Whether the second broker takes an authorization request of `clientId` to `redirectUri`: an
 * error page when it does not know that client and redirect URI; otherwise on to the login,
 * which (FTN being the second broker's only eID) leaves for the FTN simulator.
 */
async function secondAccepts(clientId: string, redirectUri: string): Promise<boolean> {
  const query = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: redirectUri,
    state: 's',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  const { leftTo, response } = await new TestBrowser(second.issuer).follow(`/auth?${query}`, { headers: { accept: 'text/html' } });
  if (leftTo) {
    expect(leftTo.origin).not.toBe(new URL(redirectUri).origin);
    return true;
  }
  expect(response.status).toBe(400);
  return false;
}

describe('clients on a shared Redis', () => {
  it('a client created through the second process logs in through the first at once', async () => {
    const created = await admin(second.issuer, 'POST', '/admin/clients', { redirect_uris: ['https://shared.example/callback'] });
    expect(created.status).toBe(201);
    await loginWorks(first.issuer, { ...(created.body as { client_id: string; client_secret: string }), redirect_uris: ['https://shared.example/callback'] });
  });

  it('a client updated through one process is served the new way by the other at once', async () => {
    const created = await createClient(first.issuer, { redirect_uris: ['https://shared.example/v1'] });
    expect(await secondAccepts(created.client_id, 'https://shared.example/v1')).toBe(true);

    // Changed through the first: the second refuses the old redirect URI and takes the new one.
    const viaFirst = await admin(first.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { redirect_uris: ['https://shared.example/v2'] });
    expect(viaFirst.status).toBe(200);
    expect(await secondAccepts(created.client_id, 'https://shared.example/v1')).toBe(false);
    expect(await secondAccepts(created.client_id, 'https://shared.example/v2')).toBe(true);
    expect((await admin(second.issuer, 'GET', `/admin/clients/${created.client_id}`)).body.redirect_uris).toEqual(['https://shared.example/v2']);

    // Changed through the second: the first logs in with the new one.
    const viaSecond = await admin(second.issuer, 'PATCH', `/admin/clients/${created.client_id}`, { redirect_uris: ['https://shared.example/v3'] });
    expect(viaSecond.status).toBe(200);
    await loginWorks(first.issuer, { ...created, redirect_uris: ['https://shared.example/v3'] });

    // A secret rotated through the second works through the first, and the old one no longer does.
    const rotated = await admin(second.issuer, 'POST', `/admin/clients/${created.client_id}/rotate-secret`);
    await loginWorks(first.issuer, { client_id: created.client_id, client_secret: rotated.body.client_secret as string, redirect_uris: ['https://shared.example/v3'] });

    // Deleted through the first: gone from the second.
    expect((await admin(first.issuer, 'DELETE', `/admin/clients/${created.client_id}`)).status).toBe(204);
    expect(await secondAccepts(created.client_id, 'https://shared.example/v3')).toBe(false);
    expect((await admin(second.issuer, 'GET', `/admin/clients/${created.client_id}`)).status).toBe(404);
  });

  // The bundle ran the admin API's schema before the CIBA module had set the grant's name: its
  // list of grants read ["authorization_code", "refresh_token", undefined], so the admin API of
  // `npm start` refused every CIBA client, and its OpenAPI document listed null for the grant.
  it('a CIBA client is created through the second process, as npm start runs it, and served by the first', async () => {
    const grants = ['authorization_code', 'urn:openid:params:grant-type:ciba'];
    const created = await admin(second.issuer, 'POST', '/admin/clients', { redirect_uris: ['https://shared.example/ciba'], grant_types: grants, backchannel_token_delivery_mode: 'poll' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await admin(first.issuer, 'GET', `/admin/clients/${String(created.body.client_id)}`)).body).toMatchObject({ grant_types: grants, backchannel_token_delivery_mode: 'poll' });
    const openapi = (await admin(second.issuer, 'GET', '/admin/openapi.json')).body as { components: { schemas: Record<string, { properties: Record<string, { items: { enum: unknown[] } }> }> } };
    expect(openapi.components.schemas.ClientFields!.properties.grant_types!.items.enum).toEqual(['authorization_code', 'refresh_token', 'urn:openid:params:grant-type:ciba']);
  });

  it('clients outlive a restart of the broker', async () => {
    const created = await createClient(second.issuer, { redirect_uris: ['https://shared.example/restart'] });
    await second.process.stop();
    await second.start();
    const shown = await admin(second.issuer, 'GET', `/admin/clients/${created.client_id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.source).toBe('dynamic');
    expect(await secondAccepts(created.client_id, 'https://shared.example/restart')).toBe(true);
  }, 60_000);
});
