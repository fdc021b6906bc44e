import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { findFreePort } from '../support/redis.js';

let tb: TestBroker;
const notFound = createServer((_req, res) => res.writeHead(404).end('nothing here'));

beforeAll(async () => {
  tb = await startTestBroker({ registration: { enabled: true, initial_access_token: false } }, 'sector-identifier');
  notFound.listen(0, '127.0.0.1');
  await once(notFound, 'listening');
});
afterAll(() => new Promise((resolve) => notFound.close(resolve)));

async function registerWithSector(sectorIdentifierUri: string) {
  const response = await fetch(`${tb.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: ['https://one.example/cb', 'https://two.example/cb'],
      subject_type: 'pairwise',
      sector_identifier_uri: sectorIdentifierUri,
    }),
  });
  return { status: response.status, body: await response.json() };
}

describe('a sector_identifier_uri that cannot be used', () => {
  it('is answered alike, whatever the failure: nothing tells a closed port from an open one or a missing host', async () => {
    const closedPort = await findFreePort();
    const answers = await Promise.all([
      registerWithSector(`https://127.0.0.1:${closedPort}/sector.json`),
      registerWithSector(`https://127.0.0.1:${(notFound.address() as AddressInfo).port}/sector.json`),
      registerWithSector('https://no-such-host.invalid/sector.json'),
      registerWithSector('https://127.0.0.1:6379/sector.json'),
    ]);
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0]).toEqual({ status: 400, body: { error: 'invalid_client_metadata', error_description: expect.any(String) } });
  });
});

describe("a client's jwks_uri", () => {
  /** What the token endpoint says to a private_key_jwt client whose jwks_uri answers its key with `paddingBytes` more. */
  async function tokenAnswerWithJwksOf(paddingBytes: number): Promise<unknown> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig', kid: 'one' };
    const document = JSON.stringify({ keys: [jwk], padding: 'x'.repeat(paddingBytes) });
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(document));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const registration = await fetch(`${tb.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: ['https://one.example/cb'],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks_uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
        }),
      });
      expect(registration.status).toBe(201);
      const { client_id: clientId } = (await registration.json()) as { client_id: string };
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'one' })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(tb.issuer)
        .setJti(crypto.randomUUID())
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey);
      const token = await fetch(`${tb.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: 'no-such-code',
          redirect_uri: 'https://one.example/cb',
          code_verifier: 'v'.repeat(43),
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      });
      return await token.json();
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it('of a few kilobytes authenticates the client (the code is what is wrong)', async () => {
    expect(await tokenAnswerWithJwksOf(4 * 1024)).toMatchObject({ error: 'invalid_grant' });
  });

  it('answering a huge document is not read past its limit: the client cannot authenticate', async () => {
    expect(await tokenAnswerWithJwksOf(4 * 1024 * 1024)).toMatchObject({ error: 'invalid_client' });
  });
});
