import { errors, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { BrokerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { COUNTED_USES_POLICY, type InitialAccessTokens } from './initial-access-tokens.js';
import { newClientId } from './metadata.js';
import { keepSubjects } from './stable-subjects.js';

type Features = NonNullable<Configuration['features']>;

/**
 * oidc-provider's Dynamic Client Registration (RFC 7591) and registration management (RFC 7592),
 * as the `registration` section configures them. Registered clients go through the same rules
 * as every other (rules.ts, through extraClientMetadata), get a secret the broker generates
 * when their token_endpoint_auth_method needs one, and are stored by the ClientStore.
 */
export function registrationFeatures(
  registration: BrokerConfig['registration'],
  initialAccessTokens: InitialAccessTokens,
): Pick<Features, 'registration' | 'registrationManagement'> {
  if (!registration.enabled) return { registration: { enabled: false }, registrationManagement: { enabled: false } };
  return {
    registration: {
      enabled: true,
      // A string: that static token. true: tokens the admin API issues, kept in the store. false: open.
      initialAccessToken: registration.initial_access_token,
      // The admin API's ids: oidc-provider's own may start with - or _, which the CLI (and any
      // command-line tool) would read as an option when the operator passes the id to it.
      idFactory: newClientId,
      // Tokens the admin API issues count their uses (policies need adapter-backed tokens).
      ...(registration.initial_access_token === true ? { policies: { [COUNTED_USES_POLICY]: initialAccessTokens.countUse } } : {}),
      // A registration access token is only of use for managing the client.
      issueRegistrationAccessToken: registration.management,
    },
    registrationManagement: { enabled: registration.management, rotateRegistrationAccessToken: true },
  };
}

/** oidc-provider's names of the requests that write a client through /reg (RFC 7591, RFC 7592). */
const REGISTRATION_ROUTES = new Set(['registration', 'client_update']);

/** oidc-provider's own test of whether metadata needs a client secret (its method, or an HS* algorithm); not in its types. */
const needsSecret = (ctx: KoaContextWithOIDC, metadata: Record<string, unknown>) =>
  (ctx.oidc.provider.Client as unknown as { needsSecret(metadata: Record<string, unknown>): boolean }).needsSecret(metadata);

function dropSecret(metadata: Record<string, unknown>): void {
  delete metadata.client_secret;
  delete metadata.client_secret_expires_at;
}

/**
 * The defaults of a registration request that oidc-provider's clientDefaults cannot express,
 * because they depend on other metadata: a native app that leaves out token_endpoint_auth_method
 * is a public client (`none`, as the admin API does), since it cannot keep a secret (RFC 8252
 * §8.5). oidc-provider has already filled in the method and generated a secret by then, so what
 * the request itself said decides, and the secret goes.
 *
 * An update (RFC 7592) to metadata that needs no secret drops the one the client had, as the
 * admin API does: oidc-provider kept it, so a client that left a leaked secret for
 * private_key_jwt or none still had request objects signed with it (HS256) taken as its own.
 * Back on a method with a secret, it gets a new one.
 */
export function applyRegistrationDefaults(ctx: KoaContextWithOIDC | undefined, metadata: Record<string, unknown>): void {
  if (!ctx || !REGISTRATION_ROUTES.has(ctx.oidc.route)) return;
  const requested = (ctx.oidc.body ?? {}) as Record<string, unknown>;
  if (metadata.application_type === 'native' && requested.token_endpoint_auth_method === undefined) {
    metadata.token_endpoint_auth_method = 'none';
    dropSecret(metadata);
  }
  if (ctx.oidc.route === 'client_update' && !needsSecret(ctx, metadata)) dropSecret(metadata);
}

/**
 * Metadata that asks for encrypted answers or takes encrypted requests (OpenID Connect Dynamic
 * Client Registration §2, JWT introspection and JARM's). Discovery lists no encryption algorithm,
 * and oidc-provider, with encryption off, drops such a field without a word: the client would be
 * registered for answers in the clear while it asked for them encrypted.
 */
const ENCRYPTION_FIELDS = ['id_token', 'userinfo', 'introspection', 'authorization'].flatMap((answer) => [`${answer}_encrypted_response_alg`, `${answer}_encrypted_response_enc`]).concat(['request_object_encryption_alg', 'request_object_encryption_enc']);

/** Refuses a registration request that asks for encryption (ENCRYPTION_FIELDS), naming the field. */
export function refuseEncryption(ctx: KoaContextWithOIDC | undefined): void {
  if (!ctx || !REGISTRATION_ROUTES.has(ctx.oidc.route)) return;
  const requested = (ctx.oidc.body ?? {}) as Record<string, unknown>;
  const asked = ENCRYPTION_FIELDS.find((field) => requested[field] !== undefined && requested[field] !== null);
  if (asked) throw new errors.InvalidClientMetadata(`${asked}: encryption is not supported (discovery lists no encryption algorithm); leave the field out`);
}

/**
 * An update through registration management (RFC 7592) is held to the rule the admin API keeps:
 * no change that would give the client's people other subs (stable-subjects.ts). oidc-provider
 * saves the updated client right after it has checked the metadata, with no hook in between, so
 * the rule runs within that check, where the client as it is (authenticated by its registration
 * access token) and the metadata it would have are both at hand.
 */
export function keepSubjectsOnUpdate(ctx: KoaContextWithOIDC | undefined, metadata: Record<string, unknown>): void {
  if (ctx?.oidc.route !== 'client_update' || !ctx.oidc.client) return;
  keepSubjects(ctx.oidc.provider, ctx.oidc.client.metadata(), { ...metadata } as ClientMetadata);
}

/** What an operator should know at start-up about where runtime clients come from and live. */
export function logClientSources(config: BrokerConfig, log: Logger): void {
  const { registration } = config;
  if (registration.enabled && registration.initial_access_token === true && !config.admin.token) {
    log.warn('registration.initial_access_token is true, but the admin API that issues them is off (admin.token): nobody can register');
  }
  if (registration.enabled && registration.initial_access_token === false) {
    log.warn('dynamic client registration is open: anyone who can reach /reg can register a client (set registration.initial_access_token to require one)');
  }
  if (!config.redis) {
    log.warn(
      'clients created at runtime (admin API, dynamic registration) are kept in the in-memory store too: they vanish on restart. Static clients come from the configuration again.',
    );
  }
}
