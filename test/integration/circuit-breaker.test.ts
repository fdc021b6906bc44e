import { beforeAll, describe, expect, it } from 'vitest';
import { startNorwegianBankIdSimulator } from '../../providers/no-bankid/simulator/index.js';
import { eventually, Scrape } from '../support/ops.js';
import { actAtUpstream, startUpstreamTestBed, type UpstreamTestBed } from '../support/upstream.js';

const NORWAY = 'urn:nordic-eid:no:bankid';

let bed: UpstreamTestBed;

/**
 * The circuit breaker with its default failure rule, in front of a simulated upstream that
 * fails part of the time or all of it. Only the half-open wait is shorter than its default,
 * so that the test waits less.
 */
beforeAll(async () => {
  bed = await startUpstreamTestBed('circuit-breaker', [{ id: 'no-bankid', start: startNorwegianBankIdSimulator, tokenEndpointAuthMethod: 'client_secret_basic' }], undefined, {
    circuit_breaker: { half_open_after_seconds: 0.5, max_half_open_after_seconds: 1 },
  });
});

const faults = () => bed.simulators['no-bankid']!.faults;
const openings = async () => (await Scrape.of(`${bed.tb.issuer}/metrics`)).value('neb_eid_circuit_openings_total', { eid: 'no-bankid' });
const available = () => bed.tb.broker.registry.isAvailable('no-bankid');

/** One login to the client's callback: whether it brought a code. */
async function logIn(): Promise<boolean> {
  const { response, leftTo } = await bed.rp.authorize({ acr_values: NORWAY, scope: 'openid' });
  const callback = leftTo ?? (await actAtUpstream(bed.rp, response, { person: 0 }));
  if (callback.searchParams.get('code')) return true;
  expect(callback.searchParams.get('error')).toBe('server_error');
  return false;
}

describe('the circuit breaker', () => {
  it('stays closed while the upstream fails 30 % of its calls, even in bursts: logins succeed as often as the upstream lets them', async () => {
    const before = await openings();
    // 14 good token calls, then 6 failed ones in a row: 30 %.
    faults().tokenFailures = { pattern: [...Array<boolean>(14).fill(false), ...Array<boolean>(6).fill(true)], next: 0 };
    const LOGINS = 40;
    let completed = 0;
    for (let i = 0; i < LOGINS; i += 1) if (await logIn()) completed += 1;
    expect(completed).toBe(28);
    expect(await openings()).toBe(before);
    expect(available()).toBe(true);
    delete faults().tokenFailures;
  }, 60_000);

  it('opens when every call fails, and closes at the first probe after the upstream is back', async () => {
    const before = await openings();
    faults().tokenFailures = { pattern: [true], next: 0 };
    for (let i = 0; i < 30 && available(); i += 1) expect(await logIn()).toBe(false);
    expect(available()).toBe(false);
    delete faults().tokenFailures;

    // Down altogether, the probes fail: two of them reopen the circuit...
    faults().unavailable = true;
    await eventually(async () => (await openings()) >= before + 3);
    // ...and once it answers again, the next probe closes it (one already on its way may still fail).
    faults().unavailable = false;
    const reopenings = await openings();
    await eventually(() => available());
    expect(await openings()).toBeLessThanOrEqual(reopenings + 1);
    expect(await logIn()).toBe(true);
  }, 60_000);
});
