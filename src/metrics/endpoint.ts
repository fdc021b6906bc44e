import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context, Middleware } from 'koa';
import { onlyWhere } from '../http/scoped.js';
import type { Logger } from '../log.js';
import type { Metrics } from './metrics.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Whether the request carries `Authorization: Bearer <token>`, compared in constant time. */
function hasToken(authorization: string | undefined, expected: Buffer): boolean {
  const sent = /^Bearer +([\x21-\x7e]+) *$/i.exec(authorization ?? '')?.[1];
  return sent !== undefined && timingSafeEqual(digest(sent), expected);
}

const UNAUTHORIZED = { error: 'invalid_token', error_description: 'The metrics need the metrics token: send Authorization: Bearer <token>.' };

/** Where the metrics are, on the broker's port: it takes GET and HEAD. */
export const METRICS_PATH = '/metrics';

/** /metrics on the broker's own port, behind `metrics.token` when it is set. */
export function metricsRoute(metrics: Metrics, token: string | undefined): Middleware {
  const expected = token ? digest(token) : undefined;
  return onlyWhere((ctx) => ctx.path === METRICS_PATH && (ctx.method === 'GET' || ctx.method === 'HEAD'), async (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store');
    if (expected && !hasToken(ctx.get('authorization'), expected)) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer realm="nordic-eid-broker metrics"');
      ctx.body = UNAUTHORIZED;
      return;
    }
    const { contentType, body } = await metrics.exposition();
    ctx.type = contentType;
    ctx.body = body;
  });
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** /metrics on a port of its own (`metrics.port`), reachable only where that port is. */
export async function startMetricsServer(
  metrics: Metrics,
  options: { port: number; host: string; token: string | undefined },
  log: Logger,
): Promise<MetricsServer> {
  const expected = options.token ? digest(options.token) : undefined;
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://metrics').pathname;
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      response.end(body);
    };
    if (path !== '/metrics' || request.method !== 'GET') return send(404, 'application/json', JSON.stringify({ error: 'not_found', error_description: 'Only /metrics is here.' }));
    if (expected && !hasToken(request.headers.authorization, expected)) {
      return send(401, 'application/json', JSON.stringify(UNAUTHORIZED), { 'www-authenticate': 'Bearer realm="nordic-eid-broker metrics"' });
    }
    metrics.exposition().then(
      ({ contentType, body }) => send(200, contentType, body),
      (err: unknown) => {
        log.error({ err }, 'metrics could not be collected');
        send(500, 'application/json', JSON.stringify({ error: 'server_error', error_description: 'The metrics could not be collected.' }));
      },
    );
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  log.info({ port, host: options.host }, 'metrics listening');
  return {
    port,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
