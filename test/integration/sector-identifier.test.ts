import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
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
