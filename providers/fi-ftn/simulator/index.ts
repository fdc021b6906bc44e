import { join } from 'node:path';
import { pluginFolder } from '../../../src/eids/sdk.js';
import type { SimulatorRegistration } from '../../upstream-oidc/index.js';
import { registeredClient, startUpstreamSimulator, type SimulatedPerson } from '../../upstream-oidc/simulator.js';

/** Test persons with valid henkilötunnus, one from the 2000s (century sign A). */
export const finnishPersons: SimulatedPerson[] = [
  {
    label: 'Matti Meikäläinen (150385-1230)',
    accountId: 'ftn-1',
    claims: { name: 'Meikäläinen Matti', given_name: 'Matti', family_name: 'Meikäläinen', birthdate: '1985-03-15', personal_identity_code: '150385-1230' },
  },
  {
    label: 'Aino Virtanen (230205A7896)',
    accountId: 'ftn-2',
    claims: { name: 'Virtanen Aino', given_name: 'Aino', family_name: 'Virtanen', birthdate: '2005-02-23', personal_identity_code: '230205A7896' },
  },
];

const LOA_HIGH = 'http://ftn.ficora.fi/2017/loa3';
const LOA_SUBSTANTIAL = 'http://ftn.ficora.fi/2017/loa2';

/**
 * An FTN broker as the FTN OIDC profile asks: request objects only (signed, and `request` as
 * the only parameter), private_key_jwt, and ID tokens signed then encrypted to the broker's
 * encryption key. The person's level is substantial unless high was asked for.
 */
export function startFinnishTrustNetworkSimulator(registration: SimulatorRegistration) {
  return startUpstreamSimulator(
    {
      folder: join(pluginFolder(import.meta.url), '..'),
      persons: finnishPersons,
      claims: {
        openid: ['sub'],
        profile: ['name', 'given_name', 'family_name', 'birthdate'],
        personal_identity_code: ['personal_identity_code'],
      },
      acrFor: (params) => (String(params.acr_values ?? '').split(' ')[0] === LOA_HIGH ? LOA_HIGH : LOA_SUBSTANTIAL),
      amr: ['ftn'],
      requestOnly: true,
      features: { encryption: true, requestObjects: true },
    },
    registeredClient(registration, {
      require_signed_request_object: true,
      request_object_signing_alg: 'RS256',
      id_token_encrypted_response_alg: 'RSA-OAEP-256',
      id_token_encrypted_response_enc: 'A128CBC-HS256',
    }),
    { port: registration.port },
  );
}
