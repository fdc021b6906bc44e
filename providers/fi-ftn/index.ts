import { pluginFolder, text, type EidPerson } from '../../src/eids/sdk.js';
import { finland } from '../countries/fi.js';
import { personCancelled } from '../upstream-oidc/error-table.js';
import { upstreamEid } from '../upstream-oidc/index.js';
import { uiLocalesFor } from '../upstream-oidc/ui-locales.js';

const ACR = 'urn:nordic-eid:fi:ftn';

/** FTN's levels of assurance (and eIDAS's, and the test environments'): all at least substantial. */
const acceptedLevels = new Set([
  'http://ftn.ficora.fi/2017/loa2',
  'http://ftn.ficora.fi/2017/loa3',
  'http://ftn.ficora.fi/2017/loatest2',
  'http://ftn.ficora.fi/2017/loatest3',
  'http://eidas.europa.eu/LoA/substantial',
  'http://eidas.europa.eu/LoA/high',
]);

/** The languages of FTN's pages. */
const FTN_LANGUAGES = ['fi', 'sv', 'en'];

/**
 * The Finnish Trust Network, through an FTN broker of the operator's choice (`issuer`): signed
 * request objects, private_key_jwt, and ID tokens signed then encrypted to the broker.
 */
export const fiFtn = upstreamEid({
  country: finland,
  assets: pluginFolder(import.meta.url),
  acrValues: [ACR],
  options: {},
  protocol: { requestObject: 'request-only', encryptedResponses: true, userinfo: 'none', privateKeyJwtOnly: true },
  scopes: () => ['openid', 'profile', 'personal_identity_code'],
  // FTN brokers (OP's Identity Service Broker) answer a cancel at the bank with `cancel` as well as access_denied.
  errors: { cancel: personCancelled('The person cancelled at the eID.') },
  authorizationParams: (login) => ({
    acr_values: 'http://ftn.ficora.fi/2017/loa2 http://ftn.ficora.fi/2017/loa3',
    ui_locales: uiLocalesFor(login.locale, FTN_LANGUAGES),
  }),
  outcome({ idToken }) {
    if (!acceptedLevels.has(String(idToken.acr))) {
      return { failure: { error: 'insufficient_scope', description: 'The FTN login was below the substantial level of assurance.' } };
    }
    const person: EidPerson = {
      FirstName: text(idToken.given_name),
      LastName: text(idToken.family_name),
      PersonalNumber: text(idToken.personal_identity_code),
      DateOfBirth: text(idToken.birthdate),
      IdProviderRequestId: text(idToken.sid) ?? text(idToken.jti) ?? String(idToken.iat),
    };
    return { person, acr: ACR, amr: ['ftn'] };
  },
  // Loaded only in simulator mode: production never pays for the simulator's code.
  simulator: async (registration) => (await import('./simulator/index.js')).startFinnishTrustNetworkSimulator(registration),
});
