import { beforeAll, describe, expect, it } from 'vitest';
import { builtInEids, simulatedEids } from '../../providers/index.js';
import { isCountryCode } from '../../src/eids/sdk.js';
import { settingsProblems } from '../support/eid-settings.js';
import { supportedLocales } from '../../src/http/locale.js';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { RelyingParty } from '../support/relying-party.js';

/**
 * What every eID owes the core, checked the same way for each built-in one on its simulator (its
 * section's check, before it starts, too): a
 * new eID gets these tests by being listed in providers/index.ts. Each eID's own behaviour is
 * tested in its folder (providers/<id>/test).
 */
describe.each(Object.keys(builtInEids))('the plugin contract: %s', (id) => {
  let tb: TestBroker;
  let rp: RelyingParty;

  beforeAll(async () => {
    // A second eID, so that a login without acr_values shows the picker.
    tb = await startTestBroker({ eids: { [id]: simulatedEids[id], 'test-double': {} } }, `contract-${id}`);
    rp = await RelyingParty.discover(tb.issuer, webClient);
  });

  const plugin = () => tb.broker.registry.get(id)!;

  /** A login waiting on the picker, in `locale`: its interaction's uid. */
  async function pickerLogin(locale = 'en'): Promise<string> {
    const { response } = await rp.authorize({ ui_locales: locale });
    return /\/interaction\/([^/?]+)/.exec(response.url)![1]!;
  }

  it('is registered under its id, for an ISO 3166-1 country, with acr values of that country published in discovery', async () => {
    expect(plugin().id).toBe(id);
    expect(isCountryCode(plugin().country.code)).toBe(true);
    expect(plugin().acrValues.length).toBeGreaterThan(0);
    const prefix = `urn:nordic-eid:${plugin().country.code.toLowerCase()}:`;
    for (const acr of plugin().acrValues) expect(acr.startsWith(prefix)).toBe(true);
    const discovery = (await (await fetch(`${tb.issuer}/.well-known/openid-configuration`)).json()) as { acr_values_supported: string[] };
    expect(discovery.acr_values_supported).toEqual(expect.arrayContaining([...plugin().acrValues]));
  });

  it('checks its section before it starts: every problem named by its full key, a simulator refused in production', async () => {
    expect(await settingsProblems(builtInEids[id]!, id, simulatedEids[id])).toEqual([]);
    const wrong = { ...(simulatedEids[id] as object), mode: 'simulated', custom_identifier: 42, colour: 'red' };
    expect(await settingsProblems(builtInEids[id]!, id, wrong)).toEqual([
      `eids.${id}.colour: unknown key`,
      expect.stringMatching(new RegExp(`^eids\\.${id}\\.mode: must be one of `)),
      `eids.${id}.custom_identifier: must be a string, not a number`,
    ]);
    expect(await settingsProblems(builtInEids[id]!, id, simulatedEids[id], 'https://id.example.com')).toContainEqual(
      expect.stringMatching(new RegExp(`^eids\\.${id}\\.mode: simulator is refused in a production configuration`)),
    );
  });

  it('masks a personal number for audit events: as long as the number, never all of it', () => {
    for (const number of ['123456789', '1234567890', '123456789012', '150385-1230']) {
      const masked = plugin().country.maskPersonalNumber(number);
      expect(masked).toHaveLength(number.length);
      expect(masked).toMatch(/\*$/);
    }
  });

  it.each(supportedLocales)('is named, with its country, in %s', async (locale) => {
    const uid = await pickerLogin(locale);
    const ui = (await (await rp.browser.request(`/interaction/${uid}/api/ui`, { headers: { accept: 'application/json' } })).json()) as {
      eids: Array<{ id: string; display_name: string; country: string }>;
    };
    const offered = ui.eids.find((eid) => eid.id === id)!;
    expect(offered.country).toBe(plugin().country.code);
    expect(offered.display_name).not.toBe(id);
    const picker = await (await rp.browser.request(`/interaction/${uid}`, { headers: { accept: 'text/html' } })).text();
    expect(picker).not.toContain(`country.${plugin().country.code}`);
  });

  it('begins a login from the JSON API: a redirect or a status, never an error', async () => {
    const uid = await pickerLogin();
    const started = await rp.browser.request(`/interaction/${uid}/api/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ eid: id }),
    });
    expect(started.status).toBe(200);
    const body = (await started.json()) as { redirectTo?: string; status?: string };
    expect(body.redirectTo ?? body.status).toBeTruthy();
  });

  it('answers a return to /eid/<id>/callback that belongs to no login with 400 — or 404, with no callback', async () => {
    const stray = await fetch(`${tb.issuer}/eid/${id}/callback?state=no-such-login&code=made-up`, { headers: { accept: 'application/json' } });
    expect(stray.status).toBe(plugin().callback ? 400 : 404);
    expect(((await stray.json()) as { error: string }).error).toBe(plugin().callback ? 'invalid_request' : 'not_found');
  });
});
