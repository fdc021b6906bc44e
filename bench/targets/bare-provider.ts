import { readFileSync } from 'node:fs';
import Provider, { type Configuration } from 'oidc-provider';
import { createLogger } from '../../src/log.js';
import { StoreAdapter } from '../../src/oidc/adapter.js';
import { claimsByScope } from '../../src/oidc/claims.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import type { Client } from '../lib/flows.js';

/**
 * Bare oidc-provider 9: what the broker is measured against. It has what the broker's
 * numbers must not be flattered or penalized by — the same storage (the project's
 * StoreAdapter on its Redis store), the same client, the same signing keys (ID tokens in
 * ES256), the same scopes and claims in the same tokens, the same lifetimes — and nothing
 * of the broker: no eID, no login pages, no identity model, no extra middleware. Its
 * interaction logs a fixed person in at once, with a grant of the scopes asked for.
 *
 * Input (argv[2], JSON): { issuer, port, redisUrl, keyPrefix, client, jwksFile, cookieKeys, ttl }.
 */
interface Input {
  issuer: string;
  port: number;
  redisUrl: string;
  keyPrefix: string;
  client: Client;
  jwksFile: string;
  cookieKeys: string[];
  ttl: Record<string, number>;
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const store = createRedisStore({ url: input.redisUrl, key_prefix: input.keyPrefix, command_timeout_ms: 500 }, createLogger('silent'));

/** The claims of the one person bare oidc-provider logs in, as the broker releases them. */
const person = {
  name: 'Astrid Lindqvist',
  given_name: 'Astrid',
  family_name: 'Lindqvist',
  birthdate: '1985-03-12',
  personal_number: '198503122437',
  country: 'SE',
  idp: 'se-bankid',
  idp_person_id: '198503122437',
  idp_request_id: '2c0e44d8-62b4-4b1b-8e43-4a9a42a9f1e6',
  identification_date: '2026-01-01T12:00:00.000Z',
};
const ACCOUNT_ID = 'bare-bench-person';

const configuration: Configuration = {
  adapter: (model: string) => new StoreAdapter(model, store),
  clients: [
    {
      client_id: input.client.client_id,
      client_secret: input.client.client_secret,
      redirect_uris: [input.client.redirect_uri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: JSON.parse(readFileSync(input.jwksFile, 'utf8')) as Configuration['jwks'],
  cookies: { keys: input.cookieKeys },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, ...person }) }),
  scopes: ['openid', 'offline_access', ...Object.keys(claimsByScope).filter((scope) => scope !== 'openid')],
  claims: claimsByScope as unknown as Configuration['claims'],
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AuthorizationCode: input.ttl.authorization_code,
    AccessToken: input.ttl.access_token,
    IdToken: input.ttl.id_token,
    RefreshToken: input.ttl.refresh_token,
    Interaction: input.ttl.interaction,
    Session: input.ttl.session,
    Grant: input.ttl.refresh_token,
  },
};

const provider = new Provider(input.issuer, configuration);

/** The interaction: log the person in at once, with consent to every scope asked for. */
provider.use(async (ctx, next) => {
  if (ctx.method !== 'GET' || !ctx.path.startsWith('/interaction/')) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: String(details.params.client_id) });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  const redirectTo = await provider.interactionResult(
    ctx.req,
    ctx.res,
    { login: { accountId: ACCOUNT_ID }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
  ctx.status = 303;
  ctx.redirect(redirectTo);
});

const server = provider.listen(input.port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void store.close().then(() => process.exit(0)));
});
