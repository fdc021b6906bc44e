import { beforeAll, describe, expect, it } from 'vitest';
import { startMitIdSimulator } from '../../providers/dk-mitid/simulator/index.js';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { eventually, Scrape } from '../support/ops.js';
import { actAtUpstream, startUpstreamTestBed, type UpstreamEidUnderTest, type UpstreamTestBed } from '../support/upstream.js';

const norway: UpstreamEidUnderTest = { id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic' };
const denmark: UpstreamEidUnderTest = { id: 'dk-mitid', start: startMitIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic' };
const NORWAY = 'urn:nordic-eid:no:bankid';
const DENMARK = 'urn:nordic-eid:dk:mitid';
const SCOPE = 'openid profile eid';

let bed: UpstreamTestBed;

/**
 * Two upstream eIDs, with a circuit breaker quick enough for a test: two failures open it, and
 * each upstream is probed every 300 ms while closed (an upstream that is down sends no one back
 * to tell), every half second while open.
 */
beforeAll(async () => {
  bed = await startUpstreamTestBed('upstream-resilience', [norway, denmark], undefined, {
    circuit_breaker: { failure_threshold: 2, half_open_after_seconds: 0.5, max_half_open_after_seconds: 1, probe_interval_seconds: 0.3 },
  });
});

const scrape = () => Scrape.of(`${bed.tb.issuer}/metrics`);
const status = async () => (await fetch(`${bed.tb.issuer}/api/status`)).json();
const available = (eid: string) => bed.tb.broker.registry.isAvailable(eid);

/** A whole login with `acr`, as far as the client's callback. */
async function logInWith(acr: string): Promise<URL> {
  const { response, leftTo } = await bed.rp.authorize({ acr_values: acr, scope: SCOPE });
  if (leftTo) return leftTo;
  return actAtUpstream(bed.rp, response, { person: 0 });
}

describe('an upstream OIDC login, as operators see it', () => {
  it('counts and times start, token, userinfo and callback', async () => {
    const before = await scrape();
    const callback = await logInWith(NORWAY);
    expect(callback.searchParams.get('code')).toBeTruthy();
    const after = await scrape();
    for (const operation of ['start', 'token', 'userinfo', 'callback']) {
      const labels = { eid: 'no-bankid', operation };
      expect(after.value('neb_eid_request_successes_total', labels), operation).toBe(before.value('neb_eid_request_successes_total', labels) + 1);
      expect(after.value('neb_eid_request_duration_seconds_count', labels), operation).toBe(before.value('neb_eid_request_duration_seconds_count', labels) + 1);
    }
  });

  it('counts a callback that ends without a person as a failure, by its error', async () => {
    const before = await scrape();
    const { response } = await bed.rp.authorize({ acr_values: NORWAY, scope: SCOPE });
    const callback = await actAtUpstream(bed.rp, response, 'cancel');
    expect(callback.searchParams.get('error')).toBe('access_denied');
    const labels = { eid: 'no-bankid', operation: 'callback', reason: 'access_denied' };
    expect((await scrape()).value('neb_eid_request_failures_total', labels)).toBe(before.value('neb_eid_request_failures_total', labels) + 1);
  });
});

describe('an upstream that fails', () => {
  it('answering 503: its circuit opens, its logins fail fast, and the other eID keeps working', async () => {
    bed.simulators['no-bankid']!.faults.unavailable = true;
    await eventually(() => !available('no-bankid'));
    expect(await status()).toMatchObject({ status: 'ISSUES', eids: { 'no-bankid': { available: false }, 'dk-mitid': { available: true } } });
    expect((await scrape()).value('neb_eid_circuit_state', { eid: 'no-bankid' })).toBeGreaterThanOrEqual(1);

    const { leftTo } = await bed.rp.authorize({ acr_values: NORWAY, scope: SCOPE });
    expect(leftTo?.searchParams.get('error')).toBe('server_error');
    expect((await logInWith(DENMARK)).searchParams.get('code')).toBeTruthy();
  });

  it('answering again: its circuit closes by itself', async () => {
    bed.simulators['no-bankid']!.faults.unavailable = false;
    await eventually(() => available('no-bankid'));
    expect(await status()).toMatchObject({ status: 'OK' });
    expect((await logInWith(NORWAY)).searchParams.get('code')).toBeTruthy();
  });

  it('killed: only its eID is degraded; started again: it takes logins again', async () => {
    await bed.stopSimulator('no-bankid');
    await eventually(() => !available('no-bankid'));
    expect(available('dk-mitid')).toBe(true);
    expect((await bed.rp.authorize({ acr_values: NORWAY, scope: SCOPE })).leftTo?.searchParams.get('error')).toBe('server_error');
    expect((await logInWith(DENMARK)).searchParams.get('code')).toBeTruthy();

    await bed.restartSimulator('no-bankid');
    await eventually(() => available('no-bankid'));
    const { response } = await bed.rp.authorize({ acr_values: NORWAY, scope: SCOPE });
    expect(new URL(response.url).origin).toBe(new URL(bed.simulators['no-bankid']!.issuer).origin);
  });
});
