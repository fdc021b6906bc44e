import type { EventEmitter } from 'node:events';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { clientIp } from '../http/client-ip.js';
import { logStoreUnavailable } from '../http/errors.js';
import type { Logger } from '../log.js';
import type { ActiveLogins } from '../metrics/active-logins.js';
import type { Metrics } from '../metrics/metrics.js';
import { BusyError, StoreUnavailableError } from '../store/store.js';
import type { AuditLog } from './audit.js';

/** The events of oidc-provider's endpoints whose errors (but server_error) its own handlers answer. */
const ENDPOINT_ERROR_EVENTS = [
  'authorization.error',
  'grant.error',
  'userinfo.error',
  'introspection.error',
  'revocation.error',
  'pushed_authorization_request.error',
  'backchannel_authentication.error',
  'end_session.error',
  'end_session_confirm.error',
  'end_session_success.error',
  'registration_create.error',
  'registration_read.error',
  'registration_update.error',
  'registration_delete.error',
];

/**
 * What oidc-provider itself does, as audit events and metrics: tokens issued (EID_200001), logout (EID_300001), clients registered, changed or deleted through
 * dynamic registration (EID_400001–3), grants issued, and logins in progress; and the errors it
 * answers with server_error, as log lines. Its events are
 * emitted while the request is served, so they carry its traceId.
 */
export function observeProvider(provider: Provider, deps: { audit: AuditLog; metrics: Metrics; activeLogins: ActiveLogins; log: Logger }): void {
  const { audit, metrics, activeLogins, log } = deps;

  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const grantType = String(ctx.oidc.params?.grant_type ?? 'unknown');
    metrics.countGrant(grantType);
    const accessToken = ctx.oidc.entities.AccessToken;
    audit.emit('tokens.issued', {
      source_ip: clientIp(ctx),
      client_id: ctx.oidc.client?.clientId,
      grant_type: grantType,
      sub: accessToken?.accountId ?? ctx.oidc.account?.accountId,
      scope: accessToken?.scope,
    });
  });

  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    audit.emit('logout', {
      source_ip: clientIp(ctx),
      client_id: ctx.oidc.client?.clientId,
      sub: ctx.oidc.session?.accountId ?? ctx.oidc.entities.Session?.accountId,
    });
  });

  // What fails inside oidc-provider is answered by its own error handler (server_error), which
  // never reaches the app's error boundary: logged here, or the traceId the answer carries would
  // lead support to nothing. One the broker answered as the client's fault instead (input
  // nested too deep: too-deep-input.ts) is not a failure of ours.
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
    if (ctx.status < 500) return;
    log.error({ err }, 'unhandled error');
  });

  // A store failure inside an endpoint is answered 503 by oidc-provider's own error handler (the
  // error is exposed, as the client's Retry-After needs), so it never reaches the error boundary,
  // which logs why: without this, a full Redis refused every token request without a word in the
  // log. A busy process is not the store's failure.
  const storeFailed = (_ctx: KoaContextWithOIDC, err: unknown) => {
    if (err instanceof StoreUnavailableError && !(err instanceof BusyError)) logStoreUnavailable(log, err);
  };
  // oidc-provider's types name each event with its own listener's types, not a list of them.
  const events: EventEmitter = provider;
  for (const event of ENDPOINT_ERROR_EVENTS) events.on(event, storeFailed);

  // Back-Channel Logout: oidc-provider sends each token once, on the confirmed logout.
  provider.on('backchannel.error', (_ctx: KoaContextWithOIDC, err: Error, client: { clientId: string }) => {
    log.warn({ client_id: client.clientId, reason: err.message }, 'back-channel logout token not delivered');
  });

  const registration = (name: 'client.created' | 'client.updated' | 'client.deleted') => (ctx: KoaContextWithOIDC, client: { clientId: string }) => {
    audit.emit(name, { source_ip: clientIp(ctx), client_id: client.clientId, actor: 'registration' });
  };
  provider.on('registration_create.success', registration('client.created'));
  provider.on('registration_update.success', registration('client.updated'));
  provider.on('registration_delete.success', registration('client.deleted'));

  provider.on('interaction.started', (ctx: KoaContextWithOIDC) => {
    const uid = ctx.oidc.entities.Interaction?.uid;
    if (uid) activeLogins.started(uid);
  });
  provider.on('interaction.ended', (ctx: KoaContextWithOIDC) => {
    const uid = ctx.oidc.entities.Interaction?.uid;
    if (uid) activeLogins.ended(uid);
  });
}
