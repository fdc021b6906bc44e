import { z } from 'zod';
import { pluginFolder, text, type EidPerson } from '../../src/eids/sdk.js';
import { denmark } from '../countries/dk.js';
import { upstreamEid } from '../upstream-oidc/index.js';
import { uiLocalesFor } from '../upstream-oidc/ui-locales.js';

const ACR = 'urn:nordic-eid:dk:mitid';

/** The languages MitID's pages speak (of the broker's five). */
const MITID_LANGUAGES = ['da', 'en'];

/** NSIS levels in order, and the acr each gives; a request for the general acr means substantial. */
const levels = ['low', 'substantial', 'high'] as const;
type Level = (typeof levels)[number];
const requestedLevel = (acr: string | undefined): Level => (acr === `${ACR}:high` ? 'high' : 'substantial');
const levelOf = (loa: unknown): Level | undefined => levels.find((level) => String(loa).toLowerCase().endsWith(`/${level}`) || String(loa).toLowerCase() === level);

/** What MitID says instead of the name of a person with name and address protection. */
const PROTECTED_NAME = 'NAVNE & ADRESSEBESKYTTET';

/** "Lars Peter Nielsen" → given names "Lars Peter", family name "Nielsen". */
function splitName(fullName: string | undefined): Pick<EidPerson, 'FirstName' | 'LastName' | 'FullName'> {
  if (!fullName || fullName === PROTECTED_NAME) return {};
  const parts = fullName.trim().split(/\s+/);
  return { FullName: fullName, FirstName: parts.slice(0, -1).join(' ') || parts[0], LastName: parts.length > 1 ? parts.at(-1) : '' };
}

/**
 * Danish MitID through a MitID broker of the operator's choice (`issuer`). The level asked for
 * goes to the broker as idp_params; a lower level coming back is refused. `eids.dk-mitid.cpr`:
 * also ask for the CPR number (scope ssn), which may prompt the person for it.
 */
export const dkMitId = upstreamEid({
  country: denmark,
  assets: pluginFolder(import.meta.url),
  acrValues: [ACR, `${ACR}:substantial`, `${ACR}:high`],
  options: { cpr: z.boolean().default(false) },
  protocol: { requestObject: 'none', encryptedResponses: false, userinfo: 'json' },
  scopes: (settings) => ['openid', 'mitid', ...(settings.cpr ? ['ssn'] : [])],
  authorizationParams: (login) => ({
    idp_values: 'mitid',
    idp_params: JSON.stringify({ mitid: { loa_value: requestedLevel(login.acr) } }),
    // MitID brokers differ: some take `language` (one value), others the standard ui_locales.
    // ui_locales puts the person's own first, for a broker's page (and the simulator's) that speaks it.
    language: MITID_LANGUAGES.includes(login.locale) ? login.locale : 'en',
    ui_locales: uiLocalesFor(login.locale, MITID_LANGUAGES),
  }),
  outcome({ idToken, userinfo }, requestedAcr) {
    const achieved = levelOf(idToken.loa ?? userinfo.loa);
    const required = requestedLevel(requestedAcr);
    if (!achieved || levels.indexOf(achieved) < levels.indexOf(required)) {
      return { failure: { error: 'insufficient_scope', description: `The MitID login was not at the ${required} level of assurance asked for.` } };
    }
    const person: EidPerson = {
      ...splitName(text(userinfo['mitid.identity_name'])),
      PersonalNumber: text(userinfo['dk.cpr']),
      DateOfBirth: text(userinfo['mitid.date_of_birth']),
      IdProviderPersonId: text(userinfo['mitid.uuid']),
      IdProviderRequestId: text(userinfo['mitid.transaction_id']) ?? text(idToken.sid) ?? String(idToken.iat),
    };
    return { person, acr: `${ACR}:${achieved}`, amr: Array.isArray(idToken.amr) ? idToken.amr.map(String) : ['mitid'] };
  },
  // Loaded only in simulator mode: production never pays for the simulator's code.
  simulator: async (registration) => (await import('./simulator/index.js')).startMitIdSimulator(registration),
});
