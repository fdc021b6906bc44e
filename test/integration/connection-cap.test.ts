import { afterAll, describe, expect, it } from 'vitest';
import { BankIdSession } from '../../providers/se-bankid/test/support.js';
import { webClient, type TestBroker } from '../support/broker.js';
import { EventStreamReader } from '../support/event-stream.js';
import { rawConnection } from '../support/http.js';
import { spawnBankIdBroker } from '../support/bankid-broker-process.js';
import { NODE_24 } from '../support/production-nodes.js';
import { deleteKeysWithPrefix, uniquePrefix } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * `server.max_connections` counts every open connection over all the listening sockets, and one
 * that closes leaves room again: also an event stream's, which the broker takes away from Node's
 * HTTP server once it opens. (With one socket Node's own count would hide a miscount: the cap is
 * checked against the connections of the socket that has them all.)
 */
const prefix = uniquePrefix('connection-cap');
afterAll(() => deleteKeysWithPrefix(prefix));

describe('the connection cap over several listening sockets (Node 24)', () => {
  it('has room again once event streams have closed, however many there were', async () => {
    const { simulator, issuer, port } = await spawnBankIdBroker(NODE_24, prefix, { listen_sockets: 4, max_connections: 10 });

    const rp = await RelyingParty.discover(issuer, webClient);
    const session = await BankIdSession.begin({ simulator, rp, tb: { issuer } as TestBroker }, { acr_values: 'urn:nordic-eid:se:bankid:other-device' });
    expect((await session.start()).status).toBe('IN_PROGRESS');
    // More streams, one after the other, than the cap allows connections at once.
    for (let i = 0; i < 15; i += 1) {
      const stream = new EventStreamReader(rp.browser, issuer, `/interaction/${session.uid}/api/events`);
      expect((await stream.opened).status).toBe(200);
      await stream.next('status');
      stream.close();
    }
    // Connections at once, all served: had the streams' connections stayed counted, the cap would
    // refuse new ones (the places left hold this test's kept-alive connections, and may still
    // hold the last stream, closing).
    const held = await Promise.all([0, 1, 2, 3].map(() => rawConnection(port)));
    for (const { socket } of held) socket.write(`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    expect((await Promise.all(held.map(({ closed }) => closed))).map((answer) => answer.slice(0, 15))).toEqual(Array(4).fill('HTTP/1.1 200 OK'));
  }, 60_000);
});
