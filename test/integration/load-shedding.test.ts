import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/paths.js';
import { spawnBroker, writeConfig, type BrokerProcess } from '../support/process.js';
import { deleteKeysWithPrefix, findFreePort, redisUrl, uniquePrefix } from '../support/redis.js';

/**
 * A real broker process whose event loop is made to lag: test/support/burn-cpu.mjs, preloaded,
 * burns the CPU in 300 ms tasks from one SIGUSR2 to the next, while Redis stays healthy.
 */
const burnCpu = ['--import', join(projectRoot, 'test/support/burn-cpu.mjs')];
const prefix = uniquePrefix('load-shedding');
const client = { client_id: 'app', client_secret: 'app-secret-'.padEnd(40, 'x'), redirect_uris: ['https://app.example/cb'] };

let broker: BrokerProcess | undefined;
afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});
afterAll(() => deleteKeysWithPrefix(prefix));

/** Starts a broker that burns the CPU in tasks of `taskMs` while burning (its commands time out after 100 ms). */
async function startBroker(settings: Record<string, unknown>, taskMs = 300): Promise<string> {
  const port = await findFreePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config = {
    issuer,
    port,
    redis: { url: redisUrl, key_prefix: prefix, command_timeout_ms: 100 },
    clients: [client],
    eids: { 'fi-ftn': { mode: 'simulator' } },
    ...settings,
  };
  broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker.json', JSON.stringify(config)), BURN_TASK_MS: String(taskMs) }, burnCpu);
  await broker.listening();
  return issuer;
}

/** A refresh_token grant with a token that does not exist: the provider looks it up in Redis. */
function unknownRefreshToken(issuer: string): Promise<Response> {
  return fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'no-such-token' }),
  });
}

/** Asks until the answer has `status`: the burning starts and stops a moment after the signal. */
async function untilStatus(request: () => Promise<Response>, status: number): Promise<Response> {
  for (let attempt = 1; ; attempt += 1) {
    const response = await request();
    if (response.status === status || attempt === 50) return response;
    await response.arrayBuffer();
  }
}

const toggleBurning = () => broker!.child.kill('SIGUSR2');

// Each test slows a broker down on purpose: they get more time than the default.
describe('a broker whose event loop lags', { timeout: 60_000 }, () => {
  it('answers new requests 503 busy with Retry-After, still answers health and metrics, and serves again after', async () => {
    const issuer = await startBroker({ load_shedding: { max_event_loop_delay_ms: 100 } });
    expect((await unknownRefreshToken(issuer)).status).toBe(400);

    toggleBurning();
    const token = await untilStatus(() => unknownRefreshToken(issuer), 503);
    expect(token.status).toBe(503);
    expect(token.headers.get('retry-after')).toBe('1');
    expect(await token.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringContaining('busy'), reason: 'busy' });

    const page = await fetch(`${issuer}/interaction/some-login`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(503);
    const text = await page.text();
    expect(text).toContain('busy');
    expect(text).not.toContain('state store');

    expect((await fetch(`${issuer}/health/live`)).status).toBe(200);
    const metrics = await fetch(`${issuer}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^neb_requests_shed_total [1-9]/m);

    toggleBurning();
    expect((await untilStatus(() => fetch(`${issuer}/.well-known/openid-configuration`), 200)).status).toBe(200);
    expect((await unknownRefreshToken(issuer)).status).toBe(400);
  });

  // A task far longer than the command timeout makes its timer run late; one just longer than it
  // does not, yet the answer still waits unread, since timers run before sockets are read.
  it.each([300, 120])('never reports the store unavailable while Redis is healthy, even when its answers wait unread (tasks of %i ms)', async (taskMs) => {
    // Without load shedding every request goes on to Redis; each answer arrives while the
    // process burns, past the 100 ms command timeout.
    const issuer = await startBroker({ load_shedding: { enabled: false } }, taskMs);
    toggleBurning();
    const answers: Array<{ status: number; body: unknown }> = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await unknownRefreshToken(issuer);
      answers.push({ status: response.status, body: await response.json() });
    }
    expect(answers).toEqual(Array(3).fill({ status: 400, body: expect.objectContaining({ error: 'invalid_grant' }) }));
  });
});
