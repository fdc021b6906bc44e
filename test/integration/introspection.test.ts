import * as client from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

const otherClient = {
  client_id: 'other-app',
  client_secret: 'the-other-apps-secret-that-is-long-enough-for-it',
  redirect_uris: ['https://other.example/callback'],
};
const resourceServer = {
  client_id: 'api',
  client_secret: 'the-resource-servers-secret-that-is-long-enough',
  redirect_uris: ['https://api.example/callback'],
  resource_server: true,
};

let tb: TestBroker;
let rp: RelyingParty;

beforeAll(async () => {
  tb = await startTestBroker({ clients: [webClient, otherClient, resourceServer], registration: { enabled: true, initial_access_token: false, management: true } }, 'introspection');
  rp = await RelyingParty.discover(tb.issuer, webClient);
});

const introspect = async (caller: { client_id: string; client_secret: string }, token: string) =>
  (await tokenRequest(tb.issuer, caller, { token }, '/token/introspection')).body;

describe('introspection', () => {
  it("tells another client nothing about a token: {active: false}, as for one that does not exist", async () => {
    const tokens = await rp.redeem(await logIn(rp));
    expect(await introspect(otherClient, tokens.access_token)).toEqual({ active: false });
    expect(await introspect(webClient, tokens.access_token)).toMatchObject({ active: true, client_id: webClient.client_id, sub: tokens.claims()!.sub });
  });

  it('answers a resource server the operator named, for any client\'s token', async () => {
    const tokens = await rp.redeem(await logIn(rp));
    expect(await introspect(resourceServer, tokens.access_token)).toMatchObject({ active: true, client_id: webClient.client_id, sub: tokens.claims()!.sub });
  });

  // A deleted client is gone at once: its tokens are refused everywhere, and a resource server
  // asking about one was answered a 500 (oidc-provider read the gone client's subject type).
  it("answers a resource server {active: false} for a token of a client deleted since", async () => {
    const registered = await fetch(`${tb.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://gone.example/callback'] }),
    });
    const gone = (await registered.json()) as { client_id: string; client_secret: string; registration_access_token: string; registration_client_uri: string };
    const goneRp = await RelyingParty.discover(tb.issuer, { ...gone, redirect_uris: ['https://gone.example/callback'] });
    const tokens = await goneRp.redeem(await logIn(goneRp));
    expect(await introspect(resourceServer, tokens.access_token)).toMatchObject({ active: true, client_id: gone.client_id });
    const deleted = await fetch(gone.registration_client_uri, { method: 'DELETE', headers: { authorization: `Bearer ${gone.registration_access_token}` } });
    expect(deleted.status).toBe(204);
    const answer = await tokenRequest(tb.issuer, resourceServer, { token: tokens.access_token }, '/token/introspection');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ active: false });
  });

  it.each(['resource_server', 'refresh_tokens_without_consent'])('a client cannot give itself %s by registering', async (field) => {
    const response = await fetch(`${tb.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://self.example/callback'], [field]: true }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_client_metadata', error_description: expect.stringContaining(field) });
  });
});

describe('revocation', () => {
  it("by another client revokes nothing", async () => {
    const tokens = await rp.redeem(await logIn(rp));
    const { status } = await tokenRequest(tb.issuer, otherClient, { token: tokens.access_token }, '/token/revocation');
    expect(status).toBe(200);
    expect(await client.tokenIntrospection(rp.config, tokens.access_token)).toMatchObject({ active: true });
  });
});
