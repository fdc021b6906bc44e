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
    expect(page).toContain('<dt>personal_number</dt><dd>198112189876</dd>');
    expect(page).toContain('<dt>acr</dt><dd>urn:test:test-double</dd>');
  });

  it('shows an OIDC error from the broker in plain words', async () => {
    const browser = new TestBrowser(tb.issuer);
    const started = await browser.follow('/demo/login');
    const { response } = await browser.follow(`${started.response.url}?fail=access_denied`);
    expect(await response.text()).toContain('The login ended with this error: <code>access_denied</code>');
  });

  it('refuses a callback it did not start', async () => {
    const page = await (await new TestBrowser(tb.issuer).request('/demo/callback?code=x&state=y')).text();
    expect(page).toContain('No login is under way here. Start again from the demo page.');
  });

  it.each([
    ['sv-SE,sv;q=0.9', 'sv', 'Demotjänst', 'Logga in med valfri e-legitimation', 'Användaruppgifter (userinfo)'],
    ['en-GB', 'en', 'Demo service', 'Log in with any eID', 'Userinfo'],
    ['nb-NO', 'nb', 'Demotjeneste', 'Logg inn med en valgfri eID', 'Brukeropplysninger (userinfo)'],
    ['fi-FI', 'fi', 'Esittelypalvelu', 'Kirjaudu millä tahansa tunnistustavalla', 'Käyttäjätiedot (userinfo)'],
    ['da-DK', 'da', 'Demotjeneste', 'Log ind med et valgfrit eID', 'Brugeroplysninger (userinfo)'],
  ])('speaks the browser\'s language (%s), on its start page and its result', async (acceptLanguage, lang, title, login, userinfo) => {
    const browser = new TestBrowser(tb.issuer);
    browser.headers.set('accept-language', acceptLanguage);
    const home = await (await browser.request('/demo')).text();
    expect(home).toContain(`<html lang="${lang}">`);
    expect(home).toContain(`<h1>${title}</h1>`);
    expect(home).toContain(`href="/demo/login">${login}</a>`);

    const started = await browser.follow('/demo/login');
    const result = await (await browser.follow(`${started.response.url}?person=0`)).response.text();
    expect(result).toContain(`<html lang="${lang}">`);
    expect(result).toContain(`<h2>${userinfo}</h2>`);
  });
});
