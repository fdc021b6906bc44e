import { beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../support/browser.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';

let tb: TestBroker;

beforeAll(async () => {
  tb = await startTestBroker({ demo: true }, 'demo');
});

describe('the demo relying party at /demo', () => {
  it('logs in through the broker and shows the claims it received, escaped', async () => {
    const browser = new TestBrowser(tb.issuer);
    const home = await browser.request('/demo');
    expect(await home.text()).toContain('href="/demo/login?acr=urn%3Atest%3Atest-double"');

    const started = await browser.follow('/demo/login');
    expect(started.response.url).toContain('/test-double/decide');
    const { response } = await browser.follow(`${started.response.url}?person=0`);
    expect(new URL(response.url).pathname).toBe('/demo/callback');
    const page = await response.text();
    expect(page).toContain('<th scope="row">personal_number</th><td>198112189876</td>');
    expect(page).toContain('<th scope="row">acr</th><td>urn:test:test-double</td>');
  });

  it('shows an OIDC error from the broker in plain words', async () => {
    const browser = new TestBrowser(tb.issuer);
    const started = await browser.follow('/demo/login');
    const { response } = await browser.follow(`${started.response.url}?fail=access_denied`);
    expect(await response.text()).toContain('The login ended with <code>access_denied</code>');
  });

  it('refuses a callback it did not start', async () => {
    const page = await (await new TestBrowser(tb.issuer).request('/demo/callback?code=x&state=y')).text();
    expect(page).toContain('no login in progress');
  });
});
