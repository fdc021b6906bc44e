import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { compiledMain } from '../../scripts/build.js';
import { projectRoot } from '../../src/paths.js';
import type { TestBroker } from '../support/broker.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { admin, ADMIN_TOKEN, createClient, startAdminBroker } from './admin-support.js';

/**
 * Single-page apps (oidc-client-ts) and native apps (AppAuth) ask for offline_access but never
 * send prompt=consent, which OIDC Core §11 wants for it; oidc-provider then drops offline_access
 * and the app silently gets no refresh token. A client the operator registered with
 * refresh_tokens_without_consent gets one anyway: the registration is the consent.
 */

const SPA_REDIRECT = 'https://spa-renew.example/callback';
const spa = {
  client_id: 'spa-renew',
  redirect_uris: [SPA_REDIRECT],
  token_endpoint_auth_method: 'none' as const,
  refresh_tokens_without_consent: true,
};
/** What oidc-client-ts and AppAuth send: offline_access, no prompt. */
const OFFLINE_WITHOUT_PROMPT = { scope: 'openid profile offline_access' };

let tb: TestBroker;

beforeAll(async () => {
  tb = await startAdminBroker({ clients: [spa, { client_id: 'spa-plain', redirect_uris: [SPA_REDIRECT], token_endpoint_auth_method: 'none' }] }, 'refresh-consent');
});

/** A native app registered through the admin API, without the flag. */
async function nativeApp(redirectUri: string) {
  const created = await createClient(tb.issuer, { application_type: 'native', redirect_uris: [redirectUri] });
  return { client_id: created.client_id, redirect_uris: [redirectUri] };
}

async function firstTokens(registration: { client_id: string; redirect_uris: string[] }) {
  const rp = await RelyingParty.discover(tb.issuer, registration);
  return { rp, tokens: await rp.redeem(await logIn(rp, OFFLINE_WITHOUT_PROMPT)) };
}

describe('refresh tokens without a consent screen', () => {
  it('a client without the flag gets none for offline_access without prompt=consent', async () => {
    const { tokens } = await firstTokens({ client_id: 'spa-plain', redirect_uris: [SPA_REDIRECT] });
    expect(tokens.access_token).toEqual(expect.any(String));
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('a static client with refresh_tokens_without_consent gets one, and it rotates on use', async () => {
    const { rp, tokens } = await firstTokens(spa);
    const first = tokens.refresh_token!;
    expect(first).toEqual(expect.any(String));
    const renewed = await client.refreshTokenGrant(rp.config, first);
    expect(renewed.refresh_token).toEqual(expect.any(String));
    expect(renewed.refresh_token).not.toBe(first);
    expect(renewed.claims()?.sub).toBe(tokens.claims()!.sub);
    await expect(client.refreshTokenGrant(rp.config, first)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('a refresh that sends the scope asked for, offline_access included (mod_auth_openidc does), is taken; a scope never granted is not', async () => {
    const { rp, tokens } = await firstTokens(spa);
    const renewed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!, OFFLINE_WITHOUT_PROMPT);
    expect(renewed.access_token).toEqual(expect.any(String));
    await expect(client.refreshTokenGrant(rp.config, renewed.refresh_token!, { scope: 'openid profile offline_access personal_number' })).rejects.toMatchObject({
      error: 'invalid_scope',
    });
  });

  it('the admin API sets it on a native app, and refuses it without the refresh_token grant', async () => {
    const app = await nativeApp('com.example.renew:/cb');
    expect((await firstTokens(app)).tokens.refresh_token).toBeUndefined();

    const patched = await admin(tb.issuer, 'PATCH', `/admin/clients/${app.client_id}`, { refresh_tokens_without_consent: true });
    expect(patched.status).toBe(200);
    expect(patched.body.refresh_tokens_without_consent).toBe(true);
    expect((await firstTokens(app)).tokens.refresh_token).toEqual(expect.any(String));

    const refused = await admin(tb.issuer, 'PATCH', `/admin/clients/${app.client_id}`, { grant_types: ['authorization_code'] });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_client_metadata', error_description: expect.stringMatching(/^refresh_tokens_without_consent: needs the refresh_token grant/) });
  });

  it('the CLI sets and clears it', async () => {
    const app = await nativeApp('com.example.cli-renew:/cb');
    const run = (flag: string) =>
      promisify(execFile)(process.execPath, [compiledMain, 'clients', 'update', app.client_id, flag, '--json'], {
        cwd: projectRoot,
        env: { ...process.env, BROKER_ADMIN_URL: tb.issuer, BROKER_ADMIN_TOKEN: ADMIN_TOKEN },
      });
    expect(JSON.parse((await run('--refresh-tokens-without-consent')).stdout)).toMatchObject({ refresh_tokens_without_consent: true });
    expect((await firstTokens(app)).tokens.refresh_token).toEqual(expect.any(String));
    expect(JSON.parse((await run('--no-refresh-tokens-without-consent')).stdout)).toMatchObject({ refresh_tokens_without_consent: false });
    expect((await firstTokens(app)).tokens.refresh_token).toBeUndefined();
  });
});
