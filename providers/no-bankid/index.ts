import { z } from 'zod';
import { pluginFolder, text, type EidPerson, type PostalAddress } from '../../src/eids/sdk.js';
import { norway } from '../countries/no.js';
import { upstreamEid } from '../upstream-oidc/index.js';
import { uiLocalesFor } from '../upstream-oidc/ui-locales.js';

const ACR = 'urn:nordic-eid:no:bankid';

/** A relying party's login_hint picks the BankID method; the matching acr goes along. */
const methods: Record<string, string> = { BID: 'urn:bankid:bid', BIM: 'urn:bankid:bim', BIS: 'urn:bankid:bis' };
const LOGIN_HINT = /^(BID|BIM|BIS)(:[0-9:]*)?$/;

/** The languages of BankID's pages. */
const NORWEGIAN_BANKID_LANGUAGES = ['nb', 'en'];

/** The contact details BankID's userinfo can add, by its scope name. */
const CONTACT_SCOPES = ['email', 'phone', 'address'] as const;

/** BankID's address claim, in the members of OIDC's (it adds house_number and the like, which stay behind). */
function addressOf(value: unknown): PostalAddress | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const claim = value as Record<string, unknown>;
  const members = ['formatted', 'street_address', 'postal_code', 'locality', 'region', 'country'] as const;
  const address = Object.fromEntries(members.flatMap((member) => (text(claim[member]) ? [[member, text(claim[member])]] : [])));
  return Object.keys(address).length ? address : undefined;
}

/**
 * Norwegian BankID through its OIDC provider. `eids.no-bankid.nnin`: also ask for the national
 * identity number (scope nnin_altsub, for eligible clients only). `eids.no-bankid.contact_details`:
 * also ask for the person's email, phone and address (userinfo; BankID asks the person).
 */
export const noBankId = upstreamEid({
  country: norway,
  assets: pluginFolder(import.meta.url),
  acrValues: [ACR],
  officialIssuers: {
    production: 'https://auth.bankid.no/auth/realms/prod',
    test: 'https://auth.current.bankid.no/auth/realms/current',
  },
  options: {
    nnin: z.boolean().default(false),
    contact_details: z.array(z.enum(CONTACT_SCOPES)).default([]),
  },
  protocol: { requestObject: 'none', encryptedResponses: false, userinfo: 'jwt' },
  scopes: (settings) => ['openid', 'profile', ...(settings.nnin ? ['nnin_altsub'] : []), ...settings.contact_details],
  authorizationParams(login) {
    const hint = login.loginHint && LOGIN_HINT.exec(login.loginHint);
    return {
      ui_locales: uiLocalesFor(login.locale, NORWEGIAN_BANKID_LANGUAGES),
      ...(hint ? { login_hint: login.loginHint!, acr_values: methods[hint[1]!]! } : {}),
    };
  },
  outcome({ idToken, userinfo }) {
    const claims = { ...userinfo, ...idToken };
    const person: EidPerson = {
      FirstName: text(claims.given_name),
      LastName: text(claims.family_name),
      PersonalNumber: text(idToken.nnin_altsub) ?? text(userinfo.nnin),
      DateOfBirth: text(claims.birthdate),
      // sub may change for a person; bankid_altsub is BankID's stable id.
      IdProviderPersonId: text(idToken.bankid_altsub),
      IdProviderRequestId: text(idToken.sid) ?? text(idToken.jti) ?? String(idToken.iat),
      // Only userinfo has these, and only when asked for and the person agreed.
      Email: text(userinfo.email),
      PhoneNumber: text(userinfo.phone_number),
      Address: addressOf(userinfo.address),
    };
    const amr = Array.isArray(idToken.amr) ? idToken.amr.map(String) : ['bid'];
    return { person, acr: ACR, amr };
  },
  // Loaded only in simulator mode: production never pays for the simulator's code.
  simulator: async (registration) => (await import('./simulator/index.js')).startNorwegianBankIdSimulator(registration),
});
