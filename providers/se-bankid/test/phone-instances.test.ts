import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webClient } from '../../../test/support/broker.js';
import { CLOCK_AHEAD, startDeployment, type Deployment } from '../../../test/support/deployment.js';
import { tokenRequest } from '../../../test/support/http.js';
import { eventually } from '../../../test/support/ops.js';
import { deleteKeysWithPrefix, uniquePrefix } from '../../../test/support/redis.js';
import { createTestPki, type TestPki } from '../simulator/certificates.js';
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
let pki: TestPki;
let deployment: Deployment;
const prefix = uniquePrefix('phone-instances');

beforeAll(async () => {
  pki = await createTestPki();
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

// A request's expiry was the clock of the instance that started it, and every instance following
// it gave up at that time by its own clock: one 20 s ahead stopped the order at BankID 20 s before
// its time, and the person who approved in those seconds was refused.
describe('a CIBA request followed by an instance whose clock runs 20 s ahead', () => {
  let skewed: Deployment;
  const skewedPrefix = uniquePrefix('phone-instances-clock');

  // Three instances: the first starts the request, the second (20 s ahead) follows it alone once
  // the first stops, and the third, whose clock is right, answers the client's last poll.
  beforeAll(async () => {
    skewed = await startDeployment(
      skewedPrefix,
      { eids: { 'se-bankid': bankIdSection(simulator, pki) }, clients: [webClient, callCentre], ciba: { interval: 1 } },
      3,
      (index) => (index === 1 ? CLOCK_AHEAD : []),
    );
  }, 60_000);
  afterAll(async () => {
    await skewed?.stop();
    await deleteKeysWithPrefix(skewedPrefix);
  });

  it('is not given up before its time: the person approves in its last seconds, the instance ahead records it, and the backend gets its tokens', async () => {
    const { balancer, instances } = skewed;
    const backend = await client.discovery(new URL(balancer.url), callCentre.client_id, undefined, client.ClientSecretBasic(callCentre.client_secret), {
      execute: [client.allowInsecureRequests],
    });
    // Only the first instance in the balancer's rotation: the request starts there.
    balancer.markDown(1);
    balancer.markDown(2);
    const request = await client.initiateBackchannelAuthentication(backend, {
      scope: 'openid personal_number',
      login_hint: PERSON.personalNumber,
      call_initiator: 'user',
      requested_expiry: '30',
    });
    const pollAt = async (instance: number) =>
      (await tokenRequest(instances[instance]!.url, callCentre, { grant_type: 'urn:openid:params:grant-type:ciba', auth_req_id: request.auth_req_id })).body;
    // A poll at the instance ahead, which follows the request from then on; then the first stops.
    expect(await pollAt(1)).toMatchObject({ error: 'authorization_pending' });
    await instances[0]!.process.stop();

    // Past the request's first 10 seconds, before its 30: by its own clock the instance ahead is past them.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    const order = simulator.orders().find((candidate) => candidate.kind === 'phone/auth' && candidate.personalNumber === PERSON.personalNumber && candidate.status === 'pending')!;
    simulator.confirmCall(order.orderRef);
    simulator.approve(order.orderRef);
    // Collected by the instance ahead, the only one that follows the request, before the third is asked.
    const collects = simulator.callCount('collect', order.orderRef);
    await eventually(() => simulator.callCount('collect', order.orderRef) > collects, 20, 250);
    // Polled at the third instance, whose clock is right: on the one ahead, oidc-provider holds
    // the auth_req_id expired by its host's clock, which the store's clock does not move.
    const answer = await eventually(async () => {
      const body = await pollAt(2);
      return body.error === 'authorization_pending' || body.error === 'slow_down' ? undefined : body;
    }, 20, 1_100);
    expect(answer).toMatchObject({ access_token: expect.any(String), id_token: expect.any(String) });
  }, 60_000);
});
