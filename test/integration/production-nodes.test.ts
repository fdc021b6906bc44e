import { afterAll, describe, expect, it } from 'vitest';
import { logInWithBankIdOnAnotherDevice } from '../../docs/examples/bankid-custom-frontend.mjs';
import { simulatedPersons } from '../../providers/se-bankid/simulator/persons.js';
import { webClient } from '../support/broker.js';
import { bankIdPhone } from '../support/interop.js';
import { spawnBankIdBroker } from '../support/bankid-broker-process.js';
import { PRODUCTION_NODE_MAJORS, productionNode } from '../support/production-nodes.js';
import { deleteKeysWithPrefix, uniquePrefix } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * The broker as production runs it, on Node 22 and on Node 24: the compiled broker process on
 * Redis, with Swedish BankID over mutual TLS (the simulator), a relying party logging a person in.
 */
const prefix = uniquePrefix('production-nodes');
afterAll(() => deleteKeysWithPrefix(prefix));

describe.each(PRODUCTION_NODE_MAJORS)('the broker on Node %i', (major) => {
  it('logs a person in with Swedish BankID on another device, end to end', async () => {
    const { broker, simulator, issuer } = await spawnBankIdBroker(productionNode(major), prefix);
    expect(broker.output()).toContain(`"node":"${major}.`);
    expect(broker.output()).toContain('"listen_sockets":16');

    const rp = await RelyingParty.discover(issuer, webClient);
    const { response } = await rp.authorize({ acr_values: 'urn:nordic-eid:se:bankid:other-device' });
    const uid = /\/interaction\/([^/]+)\//.exec(response.url)![1]!;
    const final = await logInWithBankIdOnAnotherDevice({
      uid,
      request: (path: string, init: RequestInit) => rp.browser.request(path, init),
      wait: (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 300))),
      onStatus: bankIdPhone(simulator),
    });
    expect(final.status).toBe('COMPLETE');
    const { leftTo } = await rp.browser.follow(final.redirectTo!);
    const tokens = await rp.redeem(leftTo!);
    expect(tokens.claims()).toMatchObject({ personal_number: simulatedPersons[0]!.personalNumber, acr: 'urn:nordic-eid:se:bankid:other-device' });
  }, 60_000);
});
