import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { RelyingParty } from '../support/relying-party.js';

let behindProxy: TestBroker;
let direct: TestBroker;

beforeAll(async () => {
  behindProxy = await startTestBroker({ trust_proxy: 1 }, 'proxy');
  direct = await startTestBroker({}, 'direct');
});

async function authorizationCookies(tb: TestBroker, headers: Record<string, string>) {
  const rp = await RelyingParty.discover(tb.issuer, webClient);
  const response = await fetch(await rp.authorizationUrl(), { redirect: 'manual', headers });
  return response.headers.getSetCookie();
}

describe('behind a trusted proxy', () => {
  it('marks cookies Secure when the proxy says the request came over https', async () => {
    const cookies = await authorizationCookies(behindProxy, { 'x-forwarded-proto': 'https' });
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) expect(cookie.toLowerCase()).toContain('; secure');
  });

  it('keeps the traceId a trusted proxy sends', async () => {
    const response = await fetch(`${behindProxy.issuer}/health/live`, { headers: { traceid: '0123456789abcdef' } });
    expect(response.headers.get('traceid')).toBe('0123456789abcdef');
  });
});

describe('without trust_proxy', () => {
  it('ignores X-Forwarded-Proto', async () => {
    const cookies = await authorizationCookies(direct, { 'x-forwarded-proto': 'https' });
    for (const cookie of cookies) expect(cookie.toLowerCase()).not.toContain('; secure');
  });

  it('makes its own traceId, whatever the request claims', async () => {
    const response = await fetch(`${direct.issuer}/health/live`, { headers: { traceid: '0123456789abcdef' } });
    expect(response.headers.get('traceid')).not.toBe('0123456789abcdef');
  });
});
