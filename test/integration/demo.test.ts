import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { TestBrowser } from '../support/browser.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';

let tb: TestBroker;
/** The broker's log lines, as JSON. */
const logged: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(...chunk.toString().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>));
      done();
    },
  });
  tb = await startTestBroker({ demo: true }, 'demo', { log: createLogger('info', sink) });
});

/** The log line the demo wrote for the request with `traceId`, once it is there. */
async function demoLine(traceId: string): Promise<Record<string, unknown>> {
  await expect.poll(() => logged.find((line) => line.traceId === traceId && line.msg === 'the demo login did not complete')).toBeDefined();
  return logged.find((line) => line.traceId === traceId && line.msg === 'the demo login did not complete')!;
}

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

  it("shows an OIDC error from the broker by its code, with the support reference; the broker's English description goes to the log", async () => {
    const browser = new TestBrowser(tb.issuer);
    const started = await browser.follow('/demo/login');
    const { response } = await browser.follow(`${started.response.url}?fail=access_denied`);
    const page = await response.text();
    expect(page).toContain('The login ended with this error: <code>access_denied</code>');
    const traceId = response.headers.get('traceid')!;
    expect(page).toContain(`<code>${traceId}</code>`);
    const description = new URL(response.url).searchParams.get('error_description');
    expect(description).toBeTruthy();
    expect(page).not.toContain(description);
    expect(await demoLine(traceId)).toMatchObject({ error: 'access_denied', description });
  });

  it.each([
    ['en-GB', 'The demo service could not finish the login. Start again; if it happens again, quote the support reference below.', 'Support reference'],
    ['sv-SE', 'Demotjänsten kunde inte slutföra inloggningen. Börja om, och uppge referensen för support nedan om det händer igen.', 'Referens för support'],
    ['nb-NO', 'Demotjenesten kunne ikke fullføre innloggingen. Begynn på nytt, og oppgi referansen for kundestøtte nedenfor hvis det skjer igjen.', 'Referanse for kundestøtte'],
    ['fi-FI', 'Esittelypalvelu ei voinut viedä kirjautumista loppuun. Aloita alusta, ja jos sama toistuu, kerro alla oleva tukipalvelun viite.', 'Tukipalvelun viite'],
    ['da-DK', 'Demotjenesten kunne ikke gennemføre login. Start forfra, og oplys referencen til support nedenfor, hvis det sker igen.', 'Reference til support'],
  ])("a login it cannot finish (%s: an answer whose state is not the login's) is said in its own words, in the person's language; openid-client's message goes to the log", async (acceptLanguage, said, reference) => {
    const browser = new TestBrowser(tb.issuer);
    browser.headers.set('accept-language', acceptLanguage);
    await browser.follow('/demo/login');
    const response = await browser.request(`/demo/callback?${new URLSearchParams({ code: 'a-code', state: 'not-the-login-s', iss: tb.issuer })}`);
    const page = await response.text();
    expect(page).toContain(`<p class="lead">${said}</p>`);
    const traceId = response.headers.get('traceid')!;
    expect(page).toContain(`<dt>${reference}</dt><dd><code>${traceId}</code></dd>`);
    // openid-client's message and its cause's, as pino writes an error.
    const reason = String((await demoLine(traceId) as { err: { message: string } }).err.message);
    expect(reason).toMatch(/^invalid response encountered: .*"state"/);
    // As it would be printed: escaped.
    const printed = reason.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
    expect(page).not.toContain(reason);
    expect(page).not.toContain(printed);
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
