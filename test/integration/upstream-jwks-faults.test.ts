import { describe, expect, it } from 'vitest';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import type { UpstreamSimulator } from '../../providers/upstream-oidc/simulator.js';
import { eventually } from '../support/ops.js';
import { actAtUpstream, startUpstreamTestBed, type UpstreamEidUnderTest, type UpstreamTestBed } from '../support/upstream.js';

/**
 * An upstream OIDC eID (simulated Norwegian BankID, signed ID tokens and userinfo) whose JWKS
 * cannot be reached, answers too late, or changes while a person is at the upstream. The client
 * gets an OIDC error in words, the circuit opens while the keys cannot be had, and logins work
 * again as soon as they can.
 */
const norway: UpstreamEidUnderTest = { id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic', settings: { nnin: true } };
const ACR = 'urn:nordic-eid:no:bankid';

/** A broker whose circuit breaker probes the upstream every 300 ms, closed or open, and opens at the second failure. */
async function probedBed(name: string): Promise<{ bed: UpstreamTestBed; simulator: UpstreamSimulator; available: () => boolean }> {
  const bed = await startUpstreamTestBed(name, [norway], undefined, {
    circuit_breaker: { failure_threshold: 2, half_open_after_seconds: 0.5, max_half_open_after_seconds: 1, probe_interval_seconds: 0.3 },
  });
  return { bed, simulator: bed.simulators['no-bankid']!, available: () => bed.tb.broker.registry.isAvailable('no-bankid') };
}

/** A whole login, as far as the client's callback: the person picks the first test person at the upstream, if sent there. */
async function logIn(bed: UpstreamTestBed): Promise<URL> {
  const { response, leftTo } = await bed.rp.authorize({ acr_values: ACR });
  return leftTo ?? actAtUpstream(bed.rp, response, { person: 0 });
}

/** While the keys cannot be had: the circuit opens with no login tried, and the client is told at once, before anyone is sent to the eID. */
async function expectOpenedByProbes(bed: UpstreamTestBed, available: () => boolean): Promise<void> {
  await eventually(() => !available());
  const { leftTo } = await bed.rp.authorize({ acr_values: ACR });
  expect(leftTo?.searchParams.get('error')).toBe('server_error');
  expect(leftTo?.searchParams.get('error_description')).toMatch(/unavailable right now/);
}

describe('an upstream whose JWKS cannot be had', () => {
  it.each([
    ['cannot be reached (the connection reset)', (simulator: UpstreamSimulator, on: boolean) => (simulator.faults.jwksUnreachable = on)],
    ['answers later than the time limit', (simulator: UpstreamSimulator, on: boolean) => (simulator.faults.jwksDelayMs = on ? 4_000 : 0)],
  ])('%s: the circuit opens by its probes, with no login tried; back, it closes and a login completes', async (_name, fault) => {
    const { bed, simulator, available } = await probedBed('upstream-jwks-down');
    fault(simulator, true);
    await expectOpenedByProbes(bed, available);

    fault(simulator, false);
    await eventually(() => available());
    const callback = await logIn(bed);
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect((await bed.rp.redeem(callback)).claims()).toMatchObject({ acr: ACR });
  }, 60_000);
});

/** A broker that holds the upstream's keys from one login, and a second login whose person is at the upstream when it rotates its keys: the upstream's page. */
async function rotatedWhileAtUpstream(name: string): Promise<{ bed: UpstreamTestBed; simulator: UpstreamSimulator; atUpstream: Response }> {
  const bed = await startUpstreamTestBed(name, [norway]);
  const simulator = bed.simulators['no-bankid']!;
  expect((await logIn(bed)).searchParams.get('code')).toBeTruthy();
  const { response: atUpstream } = await bed.rp.authorize({ acr_values: ACR });
  await simulator.rotateSigningKey();
  return { bed, simulator, atUpstream };
}

describe('an upstream that rotates its keys while a person is there', () => {
  it('the login completes with the new keys', async () => {
    const { bed, atUpstream } = await rotatedWhileAtUpstream('upstream-jwks-rotated');
    const callback = await actAtUpstream(bed.rp, atUpstream, { person: 0 });
    expect((await bed.rp.redeem(callback)).claims()).toMatchObject({ acr: ACR });
  });

  it('with its JWKS unreachable then: the client is told the eID could not be reached, and the next login once it is back completes', async () => {
    const { bed, simulator, atUpstream } = await rotatedWhileAtUpstream('upstream-jwks-rotated-away');
    simulator.faults.jwksUnreachable = true;
    const failed = await actAtUpstream(bed.rp, atUpstream, { person: 0 });
    expect(failed.searchParams.get('error')).toBe('server_error');
    expect(failed.searchParams.get('error_description')).toMatch(/could not be reached/);

    // A failed fetch of the keys does not hold off the next one: this login fetches them.
    simulator.faults.jwksUnreachable = false;
    const callback = await logIn(bed);
    expect(callback.searchParams.get('error_description')).toBeNull();
    expect((await bed.rp.redeem(callback)).claims()).toMatchObject({ acr: ACR });
  });
});
