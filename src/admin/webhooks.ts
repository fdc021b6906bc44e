import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit.js';
import { auditEventNames } from '../audit/events.js';
import { webhookIdSchema } from '../config/schema.js';
import { clientIp } from '../http/client-ip.js';
import { HttpError } from '../http/errors.js';
import { DEFAULT_WEBHOOK_EVENTS, webhookUrlProblem, webhookView, type WebhookEndpoints } from '../webhooks/endpoints.js';
import { jsonBody, query } from './requests.js';

/** The body of POST /admin/webhooks. */
export const webhookRequest = z
  .object({
    id: webhookIdSchema.optional(),
    url: z.string().min(1),
    events: z.array(z.enum(auditEventNames)).min(1).optional(),
  })
  .strict();

interface WebhookRouteDependencies {
  endpoints: WebhookEndpoints;
  issuer: string;
  audit: AuditLog;
}

/**
 * /admin/webhooks: the endpoints that receive audit events. An endpoint's secret is generated
 * here and shown once, in the answer that created it. Endpoints of the configuration file are
 * listed and shown, never changed.
 */
export function webhookRoutes(router: Router, { endpoints, issuer, audit }: WebhookRouteDependencies): void {
  const audited = (ctx: Context, name: 'webhook.created' | 'webhook.deleted', id: string) =>
    audit.emit(name, { source_ip: clientIp(ctx), actor: 'admin_api', webhook_id: id });

  async function load(id: string) {
    const endpoint = await endpoints.find(id);
    if (!endpoint) throw new HttpError(404, 'not_found', `There is no webhook endpoint ${id}.`);
    return endpoint;
  }

  router.get('/webhooks', async (ctx) => {
    ctx.body = { webhooks: (await endpoints.all()).map(webhookView) };
  });

  router.post('/webhooks', async (ctx) => {
    const input = query(webhookRequest, await jsonBody(ctx));
    const problem = webhookUrlProblem(input.url, issuer);
    if (problem) throw new HttpError(400, 'invalid_request', `url: ${problem}`);
    const id = input.id ?? randomBytes(8).toString('hex');
    const endpoint = await endpoints.create({ id, url: input.url, events: input.events ?? [...DEFAULT_WEBHOOK_EVENTS] });
    if (!endpoint) throw new HttpError(409, 'webhook_exists', `There is a webhook endpoint ${id} already.`);
    audited(ctx, 'webhook.created', id);
    ctx.status = 201;
    ctx.set('Location', `/admin/webhooks/${encodeURIComponent(id)}`);
    ctx.body = { ...webhookView(endpoint), secret: endpoint.secret };
  });

  router.get('/webhooks/:id', async (ctx) => {
    ctx.body = webhookView(await load(ctx.params.id!));
  });

  router.delete('/webhooks/:id', async (ctx) => {
    const { id, source } = await load(ctx.params.id!);
    if (source === 'static') throw new HttpError(409, 'read_only_webhook', `${id} comes from the configuration file: change it there, then restart the broker.`);
    await endpoints.remove(id);
    audited(ctx, 'webhook.deleted', id);
    ctx.status = 204;
  });
}
