import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { BankIdSession, bankIdSection } from '../../providers/se-bankid/test/support.js';
import { webClient, type TestBroker } from '../support/broker.js';
import { startDeployment, type Deployment } from '../support/deployment.js';
import { EventStreamReader } from '../support/event-stream.js';
import { eventually } from '../support/ops.js';
import { deleteKeysWithPrefix, uniquePrefix } from '../support/redis.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * SIGTERM to one of two broker processes while 40 BankID logins wait on their pages' event
 * streams, spread over both behind a round-robin balancer. The draining instance ends its
 * streams and exits; each browser reconnects, as EventSource does, through the balancer (which
 * took the instance out once its readiness said 503) to the other instance, and every login
 * completes there.
 */
const LOGINS = 40;
const OTHER = 'urn:nordic-eid:se:bankid:other-device';

let simulator: BankIdSimulator;
let deployment: Deployment;
const prefix = uniquePrefix('shutdown-streams');

beforeAll(async () => {
  const pki = await createTestPki();
  // Opening 40 logins one after another takes longer than BankID, or the broker, waits for a person.
  simulator = await startBankIdSimulator({ pki, pickupTimeoutSeconds: 600, orderLifetimeSeconds: 600 });
  const bankId = { ...bankIdSection(simulator, pki), allowed_polling_for_minutes: 10 };
  // One address for all the test's browsers: the limits per address are for one person's many requests, not this.
  deployment = await startDeployment(prefix, { eids: { 'se-bankid': bankId }, event_streams: { per_ip: 4 * LOGINS }, rate_limits: { enabled: false } });
}, 60_000);
afterAll(async () => {
  await deployment?.stop();
  await simulator?.close();
  await deleteKeysWithPrefix(prefix);
});

interface WaitingLogin {
  session: BankIdSession;
  orderRef: string;
  stream: EventStreamReader;
  /** Which instance served the stream. */
  backend: number;
}

/** A BankID login whose order is under way, with its page's event stream open through the balancer. */
async function waitingLogin(): Promise<Omit<WaitingLogin, 'stream' | 'backend'>> {
  const rp = await RelyingParty.discover(deployment.balancer.url, webClient);
  const session = await BankIdSession.begin({ simulator, rp, tb: { issuer: deployment.balancer.url } as TestBroker }, { acr_values: OTHER });
  expect(await session.start()).toMatchObject({ status: 'IN_PROGRESS' });
  return { session, orderRef: simulator.orders().at(-1)!.orderRef };
}

/** Opens the login's event stream through the balancer, as the page's EventSource does, and notes which instance took it. */
async function openStream(session: BankIdSession): Promise<{ stream: EventStreamReader; backend: number }> {
  const stream = new EventStreamReader(session.bed.rp.browser, deployment.balancer.url, `/interaction/${session.uid}/api/events`);
  expect((await stream.opened).status).toBe(200);
  const backend = deployment.balancer.served.findLast(({ path }) => path === `/interaction/${session.uid}/api/events`)!.backend;
  await stream.next('qr');
  return { stream, backend };
}

describe(`SIGTERM to one of two instances holding ${LOGINS} open event streams`, () => {
  it('ends its streams and exits with 0; the browsers reconnect to the other instance and every login completes', async () => {
    const logins: WaitingLogin[] = [];
    for (let i = 0; i < LOGINS; i += 1) {
      const login = await waitingLogin();
      logins.push({ ...login, ...(await openStream(login.session)) });
    }
    const stopped = 0;
    const onStopped = logins.filter(({ backend }) => backend === stopped);
    expect(onStopped.length).toBeGreaterThan(0);

    const { process: instance } = deployment.instances[stopped]!;
    instance.child.kill('SIGTERM');
    await eventually(() => instance.output().includes('shutting down'));
    // The balancer's health check sees readiness 503 and takes the instance out.
    deployment.balancer.markDown(stopped);
    for (const { stream } of onStopped) await stream.closedByBroker(30_000);
    const { code } = await instance.exited();
    expect(code).toBe(0);
    expect(instance.output()).not.toContain('were cut');

    // EventSource reconnects the streams that ended; the others stay as they are.
    for (const login of onStopped) Object.assign(login, await openStream(login.session));
    for (const { session, orderRef, stream } of logins) {
      simulator.scanQr(stream.events.filter((event) => event.event === 'qr').at(-1)!.data);
      simulator.approve(orderRef, 0);
      const done = JSON.parse((await stream.next('done', undefined, 30_000)).data) as { redirectTo: string };
      const tokens = await session.bed.rp.redeem(await session.backToClient(done.redirectTo));
      expect(tokens.claims()).toMatchObject({ acr: OTHER });
      stream.close();
    }
  }, 600_000);
});
