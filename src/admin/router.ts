import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type ClientMetadata } from 'oidc-provider';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit.js';
import type { AuditEventName } from '../audit/events.js';
import {
  clientSchemas,
  clientView,
  completeMetadata,
  needsSecret,
  newClientId,
  newSecret,
  parseClientInput,
  type ClientInput,
  type ClientSource,
} from '../clients/metadata.js';
import type { ClientRules } from '../clients/rules.js';
import type { ClientStore } from '../clients/store.js';
import type { BrokerConfig } from '../config/schema.js';
import { clientIp } from '../http/client-ip.js';
import { HttpError } from '../http/errors.js';
import { EXACT_CASE, routesOf } from '../http/scoped.js';
import type { Logger } from '../log.js';
import { StoreUnavailableError } from '../store/store.js';
import { INITIAL_ACCESS_TOKEN_MAX_SECONDS, type InitialAccessTokens } from '../clients/initial-access-tokens.js';
import { bearerCheck } from './auth.js';
import { keepSubjects } from '../clients/stable-subjects.js';
import { openApiDocument } from './openapi.js';
import { jsonBody, query } from './requests.js';
import { webhookRoutes } from './webhooks.js';
import type { WebhookEndpoints } from '../webhooks/endpoints.js';

export interface AdminDependencies {
  /** admin.token: the bearer token every request but the OpenAPI document needs. */
  token: string;
  provider: Provider;
  clientStore: ClientStore;
  clientRules: ClientRules;
  /** The configuration's clients, as oidc-provider metadata: listed and shown, never changed. */
  staticClients: readonly ClientMetadata[];
  registration: BrokerConfig['registration'];
  /** Issues the initial access tokens whose uses registration counts. */
  initialAccessTokens: InitialAccessTokens;
  log: Logger;
  /** Every change is an audit event (EID_4xxxxx), with the admin's address; never a secret. */
  audit: AuditLog;
  webhookEndpoints: WebhookEndpoints;
  /** Decides whether a webhook may use plain http (on loopback, outside production). */
  issuer: string;
  /** The evidence an eID keeps of a transaction, by the eID's id and its transaction id. */
  evidence(eid: string, transactionId: string): Promise<object | undefined>;
}

const PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 200;
const MAX_IAT_USES = 10_000;

const listQuery = z
  .object({
    // Digits only: Number() would also take "1e1", "0x10" and " 5", and a number past 2^53 would be
    // refused with that bound rather than the page size's.
    limit: z
      .string({ error: 'must be given once' })
      .regex(/^[0-9]+$/, 'must be a whole number, in digits')
      .transform(Number)
      .pipe(z.number().min(1).max(MAX_PAGE_SIZE))
      .default(PAGE_SIZE),
    cursor: z.string().min(1).optional(),
  })
  .strict();

const iatRequest = z
  .object({ expires_in: z.number().int().min(60).max(INITIAL_ACCESS_TOKEN_MAX_SECONDS).optional(), max_uses: z.number().int().min(1).max(MAX_IAT_USES).optional() })
  .strict();
const iatRevocation = z.object({ initial_access_token: z.string().min(1) }).strict();

/**
 * The admin REST API under /admin: clients (create, list, read, update, delete, rotate-secret),
 * initial access tokens for dynamic registration, and webhook endpoints (webhooks.ts). Every answer is JSON — errors as
 * `{error, error_description}` — and is never cached. It is mounted only when admin.token is
 * set; without it /admin is a plain 404.
 *
 * Clients created here are oidc-provider clients stored through the ClientStore, like those of
 * dynamic registration, so every broker instance serves a change at once. Secrets are generated
 * here, shown in the answer that created or rotated them, and never again (nor logged).
 */
export function adminApi(deps: AdminDependencies): Middleware {
  const { provider, clientStore, clientRules, log, audit } = deps;
  const audited = (ctx: Context, name: AuditEventName, clientId?: string) =>
    audit.emit(name, { source_ip: clientIp(ctx), actor: 'admin_api', ...(clientId ? { client_id: clientId } : {}) });
  const authenticate = bearerCheck(deps.token);
  const schemas = clientSchemas(clientRules);
  const staticById = new Map(deps.staticClients.map((client) => [client.client_id, client]));
  const document = openApiDocument(clientRules);

  const view = (metadata: ClientMetadata, source: ClientSource) => clientView(metadata, source, schemas.viewFields);

  async function load(clientId: string): Promise<{ metadata: ClientMetadata; source: ClientSource }> {
    const fromConfig = staticById.get(clientId);
    if (fromConfig) return { metadata: fromConfig, source: 'static' };
    const stored = (await clientStore.find(clientId)) as ClientMetadata | undefined;
    if (!stored) throw new HttpError(404, 'not_found', `There is no client ${clientId}.`);
    return { metadata: stored, source: 'dynamic' };
  }

  /** A client the admin API may change: not one from the configuration. */
  async function loadWritable(clientId: string): Promise<ClientMetadata> {
    const { metadata, source } = await load(clientId);
    if (source === 'static') {
      throw new HttpError(409, 'read_only_client', `${clientId} comes from the configuration file: change it there, then restart the broker.`);
    }
    return metadata;
  }

  /** Runs `change` of a stored client alone (ClientStore.changeAlone); 409 client_busy when another is under way. */
  async function alone(clientId: string, change: () => Promise<void>): Promise<void> {
    if (!(await clientStore.changeAlone(clientId, change))) {
      throw new HttpError(409, 'client_busy', `Another change to ${clientId} is under way: try again once it is done.`);
    }
  }

  /** oidc-provider's validation (which runs the broker's rules too), then what is checked of a client being written. */
  async function validate(metadata: ClientMetadata): Promise<void> {
    await provider.Client.validate(metadata);
    clientRules.checkWritten(metadata);
  }

  /** Answers a client that was just written; `secret` when a new one was issued. */
  function written(ctx: Context, metadata: ClientMetadata, secret: string | undefined, status = 200) {
    ctx.status = status;
    ctx.body = { ...view(metadata, 'dynamic'), ...(secret ? { client_secret: secret } : {}) };
  }

  async function update(ctx: Context, clientId: string, input: ClientInput, merge: boolean) {
    await alone(clientId, async () => {
      const previous = await loadWritable(clientId);
      if (input.client_id !== undefined && input.client_id !== clientId) {
        throw new errors.InvalidClientMetadata('client_id: cannot be changed (it is in the URL)');
      }
      const fields = merge ? mergePatch(previous, input) : input;
      const { metadata, secret } = completeMetadata(clientId, fields, previous);
      await validate(metadata);
      keepSubjects(provider, previous, metadata);
      await clientStore.upsert(clientId, metadata);
      audited(ctx, 'client.updated', clientId);
      written(ctx, metadata, secret);
    });
  }

  const router = new Router({ ...EXACT_CASE, prefix: '/admin' });

  router.get('/openapi.json', (ctx) => {
    ctx.body = document;
  });

  /** What an eID keeps of a completed transaction: personal data, so every read is audited. */
  router.get('/eids/:eid/evidence/:transactionId', async (ctx) => {
    const { eid, transactionId } = ctx.params as { eid: string; transactionId: string };
    const evidence = await deps.evidence(eid, transactionId);
    if (!evidence) throw new HttpError(404, 'not_found', `${eid} keeps no evidence of a transaction ${transactionId} (never completed, or past its evidence_ttl).`);
    audit.emit('evidence.read', { source_ip: clientIp(ctx), actor: 'admin_api', eid, transaction_id: transactionId });
    ctx.body = evidence;
  });

  router.get('/clients', async (ctx) => {
    const { limit, cursor } = query(listQuery, ctx.query);
    const ids = [...new Set([...staticById.keys(), ...(await clientStore.ids())])].sort().filter((id) => cursor === undefined || id > cursor);
    const page: Array<Record<string, unknown>> = [];
    let nextCursor: string | undefined;
    for (const id of ids) {
      if (page.length === limit) {
        nextCursor = page.at(-1)!.client_id as string;
        break;
      }
      const fromConfig = staticById.get(id);
      const stored = fromConfig ? undefined : ((await clientStore.find(id)) as ClientMetadata | undefined);
      if (fromConfig) page.push(view(fromConfig, 'static'));
      else if (stored) page.push(view(stored, 'dynamic'));
    }
    ctx.body = { clients: page, ...(nextCursor ? { next_cursor: nextCursor } : {}) };
  });

  router.post('/clients', async (ctx) => {
    const input = parseClientInput(schemas.create, await jsonBody(ctx));
    const clientId = typeof input.client_id === 'string' ? input.client_id : newClientId();
    if (staticById.has(clientId)) throw new HttpError(409, 'client_exists', `${clientId} is a client of the configuration file.`);
    const { metadata, secret } = completeMetadata(clientId, input);
    await validate(metadata);
    if (!(await clientStore.create(clientId, metadata))) {
      throw new HttpError(409, 'client_exists', `client_id ${clientId} is taken, now or by a deleted client: ids are never reused.`);
    }
    audited(ctx, 'client.created', clientId);
    ctx.set('Location', `/admin/clients/${encodeURIComponent(clientId)}`);
    written(ctx, metadata, secret, 201);
  });

  router.get('/clients/:clientId', async (ctx) => {
    const { metadata, source } = await load(ctx.params.clientId!);
    ctx.body = view(metadata, source);
  });

  router.put('/clients/:clientId', async (ctx) => {
    await update(ctx, ctx.params.clientId!, parseClientInput(schemas.replace, await jsonBody(ctx)), false);
  });

  router.patch('/clients/:clientId', async (ctx) => {
    await update(ctx, ctx.params.clientId!, parseClientInput(schemas.patch, await jsonBody(ctx)), true);
  });

  router.delete('/clients/:clientId', async (ctx) => {
    const clientId = ctx.params.clientId!;
    await alone(clientId, async () => {
      await loadWritable(clientId);
      await clientStore.destroy(clientId);
      audited(ctx, 'client.deleted', clientId);
      ctx.status = 204;
    });
  });

  router.post('/clients/:clientId/rotate-secret', async (ctx) => {
    const clientId = ctx.params.clientId!;
    await alone(clientId, async () => {
      const previous = await loadWritable(clientId);
      if (!needsSecret(previous.token_endpoint_auth_method)) {
        throw new HttpError(400, 'invalid_request', `${clientId} uses ${String(previous.token_endpoint_auth_method)}: it has no secret to rotate.`);
      }
      const secret = newSecret();
      await clientStore.upsert(clientId, { ...previous, client_secret: secret, client_secret_expires_at: 0 });
      audited(ctx, 'client.secret_rotated', clientId);
      ctx.body = { client_id: clientId, client_secret: secret };
    });
  });

  /** Initial access tokens for dynamic registration, when registration.initial_access_token is true. */
  function assertManagedTokens() {
    const { enabled, initial_access_token: iat } = deps.registration;
    if (!enabled) throw new HttpError(409, 'registration_disabled', 'Dynamic registration is off (registration.enabled).');
    if (iat !== true) {
      throw new HttpError(409, 'registration_disabled', 'registration.initial_access_token is not true: the broker issues no initial access tokens.');
    }
  }

  router.post('/initial-access-tokens', async (ctx) => {
    assertManagedTokens();
    const requested = query(iatRequest, await jsonBody(ctx));
    const expiresIn = requested.expires_in ?? deps.registration.initial_access_token_expires_in;
    const maxUses = requested.max_uses ?? deps.registration.initial_access_token_max_uses;
    const value = await deps.initialAccessTokens.issue(provider, { expiresIn, maxUses });
    audited(ctx, 'initial_access_token.issued');
    ctx.status = 201;
    ctx.body = { initial_access_token: value, expires_at: Math.floor(Date.now() / 1000) + expiresIn, max_uses: maxUses };
  });

  router.post('/initial-access-tokens/revoke', async (ctx) => {
    assertManagedTokens();
    const { initial_access_token: value } = query(iatRevocation, await jsonBody(ctx));
    const token = await provider.InitialAccessToken.find(value);
    if (!token) throw new HttpError(404, 'not_found', 'There is no such initial access token (or it has expired).');
    await token.destroy();
    audited(ctx, 'initial_access_token.revoked');
    ctx.status = 204;
  });

  webhookRoutes(router, { endpoints: deps.webhookEndpoints, issuer: deps.issuer, audit });

  const routes = routesOf([router]);

  return async (ctx, next) => {
    if (ctx.path !== '/admin' && !ctx.path.startsWith('/admin/')) return next();
    ctx.set('Cache-Control', 'no-store');
    try {
      if (ctx.path !== '/admin/openapi.json') authenticate(ctx);
      let unmatched = false;
      await routes(ctx, async () => {
        unmatched = true;
      });
      if (unmatched && ctx.body === undefined) throw new HttpError(404, 'not_found', 'There is nothing at this address.');
    } catch (err) {
      answerError(ctx, err, log);
    }
  };
}

/** RFC 7396: the patch's fields replace the client's, and null removes one. */
function mergePatch(previous: ClientMetadata, patch: ClientInput): ClientInput {
  const merged: ClientInput = { ...previous };
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) delete merged[field];
    else if (value !== undefined) merged[field] = value;
  }
  return merged;
}

function answerError(ctx: Context, err: unknown, log: Logger): void {
  let status: number;
  let body: { error: string; error_description: string };
  if (err instanceof HttpError) {
    status = err.status;
    body = { error: err.error, error_description: err.description };
  } else if (err instanceof errors.OIDCProviderError) {
    status = err.status;
    body = { error: err.error, error_description: err.error_description ?? err.message };
  } else if (err instanceof StoreUnavailableError) {
    status = 503;
    ctx.set('Retry-After', '1');
    body = { error: err.error, error_description: err.error_description };
  } else {
    log.error({ err }, 'admin API: unhandled error');
    status = 500;
    body = { error: 'server_error', error_description: 'Something failed on our side. Quote the traceId to support.' };
  }
  ctx.status = status;
  ctx.body = body;
}
