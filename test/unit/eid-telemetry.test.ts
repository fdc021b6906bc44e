import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { EidOperations } from '../../src/eids/telemetry.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { capturingLog } from '../support/ops.js';

/**
 * An eID operation's metrics, counted in plain fields and read at scrape time: the exposition
 * shows calls under way, successes, failures and durations per eID and operation as labelled
 * prom-client updates would.
 */
const opened: EidOperations[] = [];
afterEach(() => opened.splice(0).forEach((operations) => operations.close()));

function telemetry() {
  const metrics = new Metrics();
  const { log } = capturingLog();
  const settings = (parseConfig({ issuer: 'http://127.0.0.1:1' }) as { circuit_breaker: ConstructorParameters<typeof EidOperations>[0]['settings'] }).circuit_breaker;
  const operations = new EidOperations({ metrics, log, settings });
  opened.push(operations);
  return { metrics, run: operations.telemetryFor('se-test', log).run };
}

const line = (exposition: string, name: string) => exposition.split('\n').filter((text) => text.startsWith(name)).join('\n');

describe('an eID operation\'s metrics', () => {
  it('show calls under way while they run, then successes, failures and durations by operation', async () => {
    const { metrics, run } = telemetry();
    let answer!: () => void;
    const underWay = run('collect', () => new Promise<void>((resolve) => (answer = resolve)));
    await run('collect', async () => {});
    await run('start', async () => {}, { upstream: false });
    await run('collect', () => Promise.reject(new Error('down')), { classify: () => ({ reason: 'unreachable', upstreamFailure: false }) }).catch(() => {});

    const during = await metrics.registry.metrics();
    expect(line(during, 'neb_eid_requests_in_flight{')).toBe('neb_eid_requests_in_flight{eid="se-test",operation="collect"} 1\nneb_eid_requests_in_flight{eid="se-test",operation="start"} 0');
    answer();
    await underWay;

    const after = await metrics.registry.metrics();
    expect(line(after, 'neb_eid_requests_in_flight{')).toBe('neb_eid_requests_in_flight{eid="se-test",operation="collect"} 0\nneb_eid_requests_in_flight{eid="se-test",operation="start"} 0');
    expect(line(after, 'neb_eid_request_successes_total{')).toBe('neb_eid_request_successes_total{eid="se-test",operation="collect"} 2\nneb_eid_request_successes_total{eid="se-test",operation="start"} 1');
    expect(line(after, 'neb_eid_request_failures_total{')).toBe('neb_eid_request_failures_total{eid="se-test",operation="collect",reason="unreachable"} 1');
    expect(line(after, 'neb_eid_request_duration_seconds_count{')).toBe('neb_eid_request_duration_seconds_count{eid="se-test",operation="collect"} 3\nneb_eid_request_duration_seconds_count{eid="se-test",operation="start"} 1');
    // A second scrape reports the same totals, not twice them.
    expect(line(await metrics.registry.metrics(), 'neb_eid_request_successes_total{')).toBe(line(after, 'neb_eid_request_successes_total{'));
  });
});
