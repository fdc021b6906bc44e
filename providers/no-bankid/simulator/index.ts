import { join } from 'node:path';
import { pluginFolder } from '../../../src/eids/sdk.js';
import type { SimulatorRegistration } from '../../upstream-oidc/index.js';
import { registeredClient, startUpstreamSimulator, type SimulatedPerson } from '../../upstream-oidc/simulator.js';

/** Test persons with valid fødselsnummer (one a D-number), named the way BankID's certificates name people. */
export const norwegianPersons: SimulatedPerson[] = [
  {
    label: 'Kari Nordmann (15038512363)',
    accountId: 'bankid-9578-6000-4-1000001',
    claims: {
      name: 'Nordmann, Kari',
      given_name: 'Kari',
      family_name: 'Nordmann',
      birthdate: '1985-03-15',
      nnin_altsub: '15038512363',
      nnin: '15038512363',
      bankid_altsub: '9578-6000-4-1000001',
      email: 'kari.nordmann@example.no',
      email_verified: false,
      phone_number: '+4748058567',
      phone_number_verified: true,
      address: { formatted: 'Storgata 1A\n0155 Oslo\nNorge', street_address: 'Storgata 1A', postal_code: '0155', locality: 'Oslo', country: 'NO', street_name: 'Storgata', house_number: '1', house_letter: 'A' },
    },
  },
  {
    label: 'Ola Johan Hansen (45018012301)',
    note: 'd_number',
    accountId: 'bankid-9578-6000-4-1000002',
    // Ola has given BankID no contact details.
    claims: { name: 'Hansen, Ola Johan', given_name: 'Ola Johan', family_name: 'Hansen', birthdate: '1980-01-05', nnin_altsub: '45018012301', nnin: '45018012301', bankid_altsub: '9578-6000-4-1000002' },
  },
];

/** The BankID method a login_hint or acr_values asks for; BankID High when none does. */
function method(params: Record<string, unknown>): 'bid' | 'bis' | 'bim' {
  const hint = String(params.login_hint ?? '').slice(0, 3).toLowerCase();
  const acr = String(params.acr_values ?? '');
  if (hint === 'bis' || acr.includes('urn:bankid:bis')) return 'bis';
  if (hint === 'bim' || acr.includes('urn:bankid:bim')) return 'bim';
  return 'bid';
}

/**
 * Norwegian BankID as its OIDC provider behaves: the person's identity in the ID token with
 * bankid_altsub as the stable id (nnin_altsub with that scope), userinfo as a signed JWT (with
 * email, phone and address for those scopes, when the person has them), and acr values like
 * urn:bankid:bid;LOA=4.
 */
export function startNorwegianBankIdSimulator(registration: SimulatorRegistration) {
  return startUpstreamSimulator(
    {
      folder: join(pluginFolder(import.meta.url), '..'),
      persons: norwegianPersons,
      claims: {
        openid: ['sub', 'bankid_altsub'],
        profile: ['name', 'given_name', 'family_name', 'birthdate'],
        nnin_altsub: ['nnin_altsub'],
        nnin: ['nnin'],
        email: ['email', 'email_verified'],
        phone: ['phone_number', 'phone_number_verified'],
        address: ['address'],
      },
      acrFor: (params) => (method(params) === 'bis' ? 'urn:bankid:bis;LOA=3' : `urn:bankid:${method(params)};LOA=4`),
      amr: ['bid'],
      features: { jwtUserinfo: true },
    },
    registeredClient(registration, { userinfo_signed_response_alg: 'RS256' }),
    { port: registration.port },
  );
}
