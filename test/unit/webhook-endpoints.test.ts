import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { webhookUrlProblem, WebhookEndpoints } from '../../src/webhooks/endpoints.js';

const PRODUCTION = 'https://id.example.com';
const DEVELOPMENT = 'http://localhost:3000';

describe('webhook endpoint URLs', () => {
  it.each([
    ['https://siem.example.com/hook', PRODUCTION, undefined],
    ['http://127.0.0.1:9000/hook', DEVELOPMENT, undefined],
    ['http://localhost:9000/hook', DEVELOPMENT, undefined],
    ['http://127.0.0.1:9000/hook', PRODUCTION, 'must use https (http only on a loopback host, outside production)'],
    ['http://siem.example.com/hook', DEVELOPMENT, 'must use https (http only on a loopback host, outside production)'],
    ['ftp://siem.example.com/hook', DEVELOPMENT, 'must use https (http only on a loopback host, outside production)'],
    ['https://user:pass@siem.example.com/hook', PRODUCTION, 'must not contain a user name or password'],
    ['not a url', PRODUCTION, 'must be an absolute URL'],
    // Taken as written, they were listed so while deliveries went elsewhere: URL parsing drops a
    // line break or tab, and the fragment is never sent.
    ['https://siem.example.com/ho\r\nok', PRODUCTION, 'must be written without spaces, line breaks or other control characters'],
    [' https://siem.example.com/hook', PRODUCTION, 'must be written without spaces, line breaks or other control characters'],
    ['https://siem.example.com/hook#events', PRODUCTION, 'must not contain a fragment: it is never sent'],
  ])('%s with issuer %s → %s', (url, issuer, problem) => {
    expect(webhookUrlProblem(url, issuer)).toBe(problem);
  });

  it('a configured endpoint that breaks the rule stops the start-up, naming the key', () => {
    const config = parseConfig({ webhooks: { endpoints: [{ id: 'siem', url: 'http://127.0.0.1:9000/hook', secret: 'a-webhook-secret-that-is-long-enough-0123' }] } });
    expect(() => new WebhookEndpoints(createMemoryStore(), config.webhooks, PRODUCTION)).toThrow(
      new ConfigError('webhooks.endpoints[0].url: must use https (http only on a loopback host, outside production)'),
    );
  });

  it('the configuration refuses a short secret and an unknown event, naming the key', () => {
    expect(() => parseConfig({ webhooks: { endpoints: [{ id: 'siem', url: 'https://s.example/h', secret: 'short' }] } })).toThrow(
      'webhooks.endpoints[0].secret: must be at least 32 characters',
    );
    expect(() => parseConfig({ webhooks: { endpoints: [{ id: 'siem', url: 'https://s.example/h', secret: 'a-webhook-secret-that-is-long-enough-0123', events: ['nope'] }] } })).toThrow(
      /^webhooks\.endpoints\[0\]\.events\[0\]: must be one of "authentication\.started"/,
    );
  });
});
