import { readFileSync } from 'node:fs';
import Provider, { type Configuration } from 'oidc-provider';
import { createLogger } from '../../src/log.js';
import { StoreAdapter } from '../../src/oidc/adapter.js';
import { claimsByScope } from '../../src/oidc/claims.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import type { Client } from '../lib/flows.js';
import { bankIdInteraction, instantInteraction, type RpApi } from './bare-interactions.js';

/**
 * Bare oidc-provider 9: what the broker is measured against. It has what the broker's
 * numbers must not be flattered or penalized by — the same storage (the project's
 * StoreAdapter on its Redis store), the same client, the same signing keys (ID tokens in
 * ES256), the same scopes and claims in the same tokens, the same lifetimes — and nothing
 * of the broker: no eID plugin, no login pages, no identity model, no extra middleware. Its
 * interaction (bare-interactions.ts) logs a fixed person in at once or, with `bankId`, does
 * what a minimal BankID integration does against the simulator.
 *
 * Input (argv[2], JSON): { issuer, port, redisUrl, keyPrefix, client, jwksFile, cookieKeys, ttl, bankId? }.
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
  bankId?: RpApi;
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const store = createRedisStore({ url: input.redisUrl, key_prefix: input.keyPrefix, command_timeout_ms: 500 }, createLogger('silent'));
const interaction = input.bankId ? bankIdInteraction(store, input.bankId, input.ttl.refresh_token!) : instantInteraction();

const configuration: Configuration = {
  adapter: (model: string) => new StoreAdapter(model, store, undefined),
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
  findAccount: (_ctx, sub) => interaction.findAccount(sub),
  scopes: ['openid', 'offline_access', ...Object.keys(claimsByScope).filter((scope) => scope !== 'openid')],
  claims: claimsByScope as unknown as Configuration['claims'],
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, { uid }) => interaction.url(uid) },
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
provider.use(interaction.middleware(provider));

const server = provider.listen(input.port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void store.close().then(() => process.exit(0)));
});
