import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webClient } from '../../../test/support/broker.js';
import { startDeployment, type Deployment } from '../../../test/support/deployment.js';
import { deleteKeysWithPrefix, uniquePrefix } from '../../../test/support/redis.js';
import { createTestPki } from '../simulator/certificates.js';
import { simulatedPersons } from '../simulator/persons.js';
import { startBankIdSimulator, type BankIdSimulator } from '../simulator/server.js';
import { bankIdSection } from './support.js';

const callCentre = {
  client_id: 'call-centre',
  client_secret: 'a-call-centre-secret-that-is-long-enough-for-the-schema',
  redirect_uris: ['https://callcentre.example/callback'],
  backchannel_token_delivery_mode: 'poll',
};
const PERSON = simulatedPersons[1]!;

let simulator: BankIdSimulator;
let deployment: Deployment;
const prefix = uniquePrefix('phone-instances');

beforeAll(async () => {
  const pki = await createTestPki();
  simulator = await startBankIdSimulator({ pki });
  deployment = await startDeployment(prefix, {
    eids: { 'se-bankid': bankIdSection(simulator, pki) },
    clients: [webClient, callCentre],
    ciba: { interval: 1 },
  });
}, 60_000);

afterAll(async () => {
  await deployment?.stop();
  await simulator?.close();
  await deleteKeysWithPrefix(prefix);
});

describe('a CIBA request across the instances of a deployment', () => {
  it('is followed by another instance when the one that started it stops, and the backend gets its tokens', async () => {
    const { balancer } = deployment;
    const backend = await client.discovery(new URL(balancer.url), callCentre.client_id, undefined, client.ClientSecretBasic(callCentre.client_secret), {
      execute: [client.allowInsecureRequests],
    });
    const request = await client.initiateBackchannelAuthentication(backend, {
      scope: 'openid profile personal_number',
      login_hint: PERSON.personalNumber,
      call_initiator: 'user',
    });
    const starter = balancer.served.findLast((served) => served.path === '/backchannel')!.backend;
    balancer.markDown(starter);
    await deployment.instances[starter]!.process.stop();

    const order = simulator.orders().find((candidate) => candidate.kind === 'phone/auth' && candidate.personalNumber === PERSON.personalNumber)!;
    simulator.confirmCall(order.orderRef);
    simulator.approve(order.orderRef);
    const tokens = await client.pollBackchannelAuthenticationGrant(backend, request);
    expect(tokens.claims()).toMatchObject({ acr: 'urn:nordic-eid:se:bankid:phone', personal_number: PERSON.personalNumber });
    const polls = balancer.served.filter((served) => served.path === '/token');
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((served) => served.backend !== starter)).toBe(true);
  });
});
