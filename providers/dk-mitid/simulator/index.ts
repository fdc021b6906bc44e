import { join } from 'node:path';
import { pluginFolder } from '../../../src/eids/sdk.js';
import type { SimulatorRegistration } from '../../upstream-oidc/index.js';
import { registeredClient, startUpstreamSimulator, type SimulatedPerson } from '../../upstream-oidc/simulator.js';

const nsis = (level: string) => `https://data.gov.dk/concept/core/nsis/${level}`;

/** MitID test users: levels from low to high, one with name and address protection. */
export const danishPersons: SimulatedPerson[] = [
  {
    label: 'Mette Hansen',
    note: 'app_substantial',
    accountId: 'a1b2c3d4-0000-4000-8000-000000000001',
    claims: { loa: nsis('Substantial'), 'mitid.uuid': 'a1b2c3d4-0000-4000-8000-000000000001', 'mitid.identity_name': 'Mette Hansen', 'mitid.date_of_birth': '1985-03-15', 'mitid.age': '41', 'dk.cpr': '1503851234' },
  },
  {
    label: 'Lars Peter Nielsen',
    note: 'chip_high',
    accountId: 'a1b2c3d4-0000-4000-8000-000000000002',
    claims: { loa: nsis('High'), 'mitid.uuid': 'a1b2c3d4-0000-4000-8000-000000000002', 'mitid.identity_name': 'Lars Peter Nielsen', 'mitid.date_of_birth': '1990-01-01', 'mitid.age': '36', 'dk.cpr': '0101904567' },
  },
  {
    note: 'protected_substantial',
    accountId: 'a1b2c3d4-0000-4000-8000-000000000003',
    claims: { loa: nsis('Substantial'), 'mitid.uuid': 'a1b2c3d4-0000-4000-8000-000000000003', 'mitid.identity_name': 'NAVNE & ADRESSEBESKYTTET', 'mitid.date_of_birth': '2005-02-23', 'mitid.age': '21' },
  },
  {
    label: 'Sofie Jensen',
    note: 'password_low',
    accountId: 'a1b2c3d4-0000-4000-8000-000000000004',
    claims: { loa: nsis('Low'), 'mitid.uuid': 'a1b2c3d4-0000-4000-8000-000000000004', 'mitid.identity_name': 'Sofie Jensen', 'mitid.date_of_birth': '1999-12-31', 'mitid.age': '26', 'dk.cpr': '3112991011' },
  },
];

/**
 * A MitID broker's OIDC interface: the person's claims only from userinfo, a pairwise sub,
 * `language` and `idp_params` parameters, the level of assurance as an NSIS URI in `loa`, and
 * mitid_user_aborted when the person cancels.
 */
export function startMitIdSimulator(registration: SimulatorRegistration) {
  return startUpstreamSimulator(
    {
      folder: join(pluginFolder(import.meta.url), '..'),
      persons: danishPersons,
      claims: {
        openid: ['sub', 'loa', 'idp'],
        mitid: ['mitid.uuid', 'mitid.identity_name', 'mitid.date_of_birth', 'mitid.age'],
        ssn: ['dk.cpr'],
      },
      acrFor: (_params, person) => String(person.claims.loa),
      amr: ['mitid.code_app'],
      claimsOnlyInUserinfo: true,
      extraParams: ['language', 'idp_values', 'idp_params'],
      cancelDescription: 'mitid_user_aborted',
      features: { pairwise: true },
    },
    registeredClient(registration, { subject_type: 'pairwise' }),
    { port: registration.port },
  );
}
