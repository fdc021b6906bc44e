import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { pluginFolder } from '../../src/eids/sdk.js';
import { upstreamEid } from '../upstream-oidc/index.js';
import { uiLocalesFor } from '../upstream-oidc/ui-locales.js';
import { czechia } from './birth-number.js';
import { ACR, bankIdErrors, outcomeOf } from './mapping.js';

/** The languages of Bank iD's pages. */
const BANK_ID_LANGUAGES = ['cs', 'en'];

/** Bank iD's own trace id of an authorization request: 32 letters and digits. */
const traceId = () => randomBytes(24).toString('base64url').replace(/[-_]/g, '0').slice(0, 32);

/**
 * Czech Bank iD (Bankovní identita): the person logs in at their bank through Bank iD's OpenID
 * Connect provider. The ID token carries no personal data; the person comes from Bank iD's
 * /profile, read with the access token: the birth number (rodné číslo) as the personal number,
 * names, and with `address: true` the permanent address.
 *
 * `eids.cz-bankid` takes the upstream OIDC keys (README, "Czech Bank iD") and:
 * - address: also ask for the person's addresses (scope profile.addresses); default false.
 * - token_endpoint_auth_method: client_secret_post (Bank iD's default) or private_key_jwt;
 *   Bank iD does not take client_secret_basic.
 */
export const czBankId = upstreamEid({
  country: czechia,
  // Its name on the picker, and its country's, in every language: locales/.
  assets: pluginFolder(import.meta.url),
  acrValues: [ACR],
  officialIssuers: { production: 'https://oidc.bankid.cz/', test: 'https://oidc.sandbox.bankid.cz/' },
  options: {
    address: z.boolean().default(false),
    token_endpoint_auth_method: z.enum(['client_secret_post', 'private_key_jwt']).default('client_secret_post'),
  },
  protocol: { requestObject: 'none', encryptedResponses: false, userinfo: 'none', idTokenSigningAlg: 'PS512' },
  scopes: (settings) => ['openid', 'profile.name', 'profile.birthdate', 'profile.birthnumber', ...(settings.address ? ['profile.addresses'] : [])],
  authorizationParams: (login) => ({
    // loa3 is Bank iD's only level; prompt=login, since a bank's session is no login to this client.
    acr_values: 'loa3',
    prompt: 'login',
    ui_locales: uiLocalesFor(login.locale, BANK_ID_LANGUAGES),
    trace_id: traceId(),
  }),
  errors: bankIdErrors,
  // Bank iD's support finds a login by the trace id it was sent, and each call by its traceId header.
  logParameters: ['trace_id'],
  logHeaders: ['traceId'],
  async outcome(result) {
    const profile = await result.fetchResource('profile', String(result.serverMetadata.profile_endpoint ?? new URL('profile', String(result.serverMetadata.issuer))));
    return outcomeOf(result.idToken, profile);
  },
  // Loaded only in simulator mode: production never pays for the simulator's code.
  simulator: async (registration) => (await import('./simulator/server.js')).startCzechBankIdSimulator(registration),
});
