import { z } from 'zod';
import type { EidPluginFactory, PluginContext, StartedEid } from '../../src/eids/plugin.js';
import type { EidPerson } from '../../src/identity/identity.js';
import { denmark } from '../../providers/countries/dk.js';
import { finland } from '../../providers/countries/fi.js';
import { norway } from '../../providers/countries/no.js';
import { sweden } from '../../providers/countries/se.js';

/** The countries the test double can say it is from, by code. */
const countries = { SE: sweden, NO: norway, FI: finland, DK: denmark };

/**
 * An eID for tests only: it never talks to anyone. Its page at
 * /interaction/<uid>/<id>/decide takes the person's decision from the query string:
 *   ?person=<index>      approve as that test person (through /eid/<id>/callback with &via=callback)
 *   ?fail=<error>        end with that failure
 *   &device_ip=<address> with person: the device's address, as BankID reports its app's
 * Its start takes a field of its own, `pace` ("steady" or "brisk"), which browsers remember.
 * Its config section: { country?, acr_values?, start_failure?, custom_identifier?, page_settings? }.
 */
export const testPersons: EidPerson[] = [
  { FirstName: 'Tessa', LastName: 'Testsson', PersonalNumber: '198112189876', IdProviderRequestId: 'req-1' },
  { FirstName: 'Anna', LastName: 'Andersson', PersonalNumber: '199001012385', IdProviderRequestId: 'req-2', IdProviderPersonId: 'person-2' },
];

export interface TestDoubleConfig {
  country?: keyof typeof countries;
  acr_values?: string[];
  /** Makes start() itself end the login with this failure. */
  start_failure?: 'access_denied' | 'server_error';
  /** Tags its audit events, as a real eID's custom_identifier does. */
  custom_identifier?: string;
  /** Its page's settings, as GET ui shows them. */
  page_settings?: Record<string, unknown>;
}

/** The acr values the test double serves: those of its section, else one of its own. */
const acrValuesOf = (id: string, settings: TestDoubleConfig) => settings.acr_values ?? [`urn:test:${id}`];

export const testDoubleEid: EidPluginFactory<TestDoubleConfig> = {
  check: (section, { id }) => {
    const settings = (section ?? {}) as TestDoubleConfig;
    return { settings, acrValues: acrValuesOf(id, settings) };
  },
  start: startTestDouble,
};

function startTestDouble({ id, settings }: PluginContext<TestDoubleConfig>): StartedEid {
  const acrValues = acrValuesOf(id, settings);
  const decide = (query: Record<string, unknown>) => {
    if (typeof query.fail === 'string') {
      return { failure: { error: query.fail as 'access_denied', description: `the test double failed with ${query.fail}` } };
    }
    const person: EidPerson = { ...testPersons[Number(query.person)]!, ...(typeof query.device_ip === 'string' ? { DeviceIpAddress: query.device_ip } : {}) };
    const acr = typeof query.acr === 'string' ? query.acr : acrValues[0]!;
    return { person, acr, amr: ['test'] };
  };

  const plugin: StartedEid = {
    id,
    country: countries[settings.country ?? 'SE'],
    flow: 'redirect',
    startInput: { fields: z.object({ pace: z.enum(['steady', 'brisk']).optional() }), remember: ['pace'] },
    ...(settings.page_settings ? { pageSettings: settings.page_settings } : {}),
    ...(settings.custom_identifier ? { customIdentifier: settings.custom_identifier } : {}),
    async start(login) {
      if (settings.start_failure) {
        return { outcome: { failure: { error: settings.start_failure, description: 'the test double refused to start' } } };
      }
      const acr = login.acr ? `?acr=${encodeURIComponent(login.acr)}` : '';
      return { redirectTo: `/interaction/${login.uid}/${id}/decide${acr}` };
    },
    routes(router) {
      router.get('/decide', async (ctx) => {
        if (ctx.query.person === undefined && ctx.query.fail === undefined) {
          ctx.body = { waiting: 'for the person', acr: ctx.state.login.request.acr ?? null };
          return;
        }
        if (ctx.query.via === 'callback') {
          const query = new URLSearchParams(ctx.querystring);
          query.delete('via');
          query.set('uid', ctx.state.login.uid);
          ctx.redirect(`/eid/${id}/callback?${query}`);
          return;
        }
        ctx.status = 303;
        ctx.redirect(await ctx.state.login.finish(decide(ctx.query)));
      });
    },
    callbackTimeLimitMs: 1_000,
    async callback(ctx) {
      return { uid: String(ctx.query.uid), outcome: decide(ctx.query) };
    },
  };
  return plugin;
}
