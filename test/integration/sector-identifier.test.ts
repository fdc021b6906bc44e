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

/** A broker as a client's backend reaches it: where to send requests, and its issuer (the audience of client assertions). */
interface BrokerAddress {
  url: string;
  issuer: string;
}

describe("a client's jwks_uri", () => {
  const here = (): BrokerAddress => ({ url: tb.issuer, issuer: tb.issuer });

  it('of a few kilobytes authenticates the client (the code is what is wrong)', async () => {
    expect(await tokenAnswerWithJwksOf(here(), 4 * 1024)).toEqual({ asked: true, answer: expect.objectContaining({ error: 'invalid_grant' }) });
  });

  it('answering a huge document is not read past its limit: the client cannot authenticate', async () => {
    expect(await tokenAnswerWithJwksOf(here(), 4 * 1024 * 1024)).toEqual({ asked: true, answer: expect.objectContaining({ error: 'invalid_client' }) });
  });
});

describe("a client's jwks_uri on this machine, behind an https issuer (production)", () => {
  const production: BrokerAddress = { url: '', issuer: 'https://id.example' };
  beforeAll(async () => {
    const port = await findFreePort();
    await startTestBroker({ issuer: production.issuer, port, registration: { enabled: true, initial_access_token: false } }, 'documents-production');
    production.url = `http://127.0.0.1:${port}`;
  });

  it('is never asked, however its address is spelt', async () => {
    // Over http; '[::ffff:127.0.0.1]' is no loopback name, and http to it is refused at registration (below).
    const hosts = ['127.0.0.1', 'localhost', '[::1]'];
    // Each answer waits out the fetch's time box, so they are asked at once.
    const answers = await Promise.all(hosts.map((host) => tokenAnswerWithJwksOf(production, 0, host)));
    for (const answer of answers) expect(answer).toEqual({ asked: false, answer: expect.objectContaining({ error: 'invalid_client' }) });
  });

  it('spelt as a number is refused at registration: the URI is registered as a URL parser writes it', async () => {
    for (const host of ['2130706433', '0177.0.0.1', '127.1']) {
      const response = await fetch(`${production.url}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://one.example/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `http://${host}:8080/jwks.json` }),
      });
      expect(response.status, host).toBe(400);
      expect(await response.json(), host).toEqual({ error: 'invalid_client_metadata', error_description: expect.stringMatching(/^jwks_uri: a URL parser reads it as http:\/\/127\.0\.0\.1:8080\/jwks\.json:/) });
    }
  });
});

describe("a client's jwks_uri over plain http", () => {
  it('is refused unless on a loopback host: whoever is on the way could hand the broker keys to sign in the name of the client', async () => {
    for (const jwksUri of ['http://keys.example/jwks.json', 'http://[::ffff:127.0.0.1]:8080/jwks.json']) {
      const response = await fetch(`${tb.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://one.example/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri }),
      });
      expect(response.status, jwksUri).toBe(400);
      expect(await response.json(), jwksUri).toEqual({ error: 'invalid_client_metadata', error_description: expect.stringMatching(/^jwks_uri: must use https/) });
    }
  });
});

/**
 * What the token endpoint says to a private_key_jwt client whose jwks_uri, on a server of the
 * test's at `host`, answers its key with `paddingBytes` more — and whether that server was asked.
 */
async function tokenAnswerWithJwksOf(broker: BrokerAddress, paddingBytes: number, host = '127.0.0.1'): Promise<{ asked: boolean; answer: unknown }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig', kid: 'one' };
  const document = JSON.stringify({ keys: [jwk], padding: 'x'.repeat(paddingBytes) });
  let asked = false;
  const server = createServer((_req, res) => {
    asked = true;
    res.writeHead(200, { 'content-type': 'application/json' }).end(document);
  });
  server.listen(0, '::');
  await once(server, 'listening');
  try {
    const registration = await fetch(`${broker.url}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: ['https://one.example/cb'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks_uri: `http://${host}:${(server.address() as AddressInfo).port}/jwks.json`,
      }),
    });
    expect(registration.status).toBe(201);
    const { client_id: clientId } = (await registration.json()) as { client_id: string };
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'one' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(broker.issuer)
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(privateKey);
    const token = await fetch(`${broker.url}/token`, {
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
    return { asked, answer: await token.json() };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
