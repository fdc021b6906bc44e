import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context, Middleware } from 'koa';
import type { BrokerConfig } from '../config/schema.js';
import { answerParserErrors, isRead, READ_METHODS } from '../http/errors.js';
import { onlyWhere } from '../http/scoped.js';
import { createHttpServer } from '../http/server.js';
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
  return onlyWhere((ctx) => ctx.path === METRICS_PATH && isRead(ctx.method), async (ctx: Context) => {
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


/**
 * What the metrics port answers a request for anything but the metrics: 404 for another address,
 * 405 with Allow for another method. The address is the request target up to its query, read
 * as it is: a target no URL parses (`http://[`) is another address, not a thrown error.
 */
function refusalOf(method: string | undefined, target: string | undefined): { status: number; body: object; headers?: Record<string, string> } | undefined {
  const path = (target ?? '/').split('?', 1)[0];
  if (path !== METRICS_PATH) return { status: 404, body: { error: 'not_found', error_description: `Only ${METRICS_PATH} is here.` } };
  if (isRead(method ?? '')) return undefined;
  return { status: 405, body: { error: 'invalid_request', error_description: `${METRICS_PATH} takes ${READ_METHODS.join(' and ')}.` }, headers: { allow: READ_METHODS.join(', ') } };
}

/**
 * The most connections the metrics port holds open: a scraper or two and someone looking. More
 * are closed at once, so that connections held open there cannot use up what the process may open.
 */
export const METRICS_MAX_CONNECTIONS = 16;

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * /metrics on a port of its own (`metrics.port`), reachable only where that port is. It holds a
 * slow client no longer than the broker's port does (the `server` timeouts; Node's own defaults
 * would keep one for a minute and more), and at most METRICS_MAX_CONNECTIONS at once. What
 * never reaches its handler (malformed HTTP, headers too large, CONNECT, another Expect) is
 * answered as on the broker's port, in JSON with a traceId and `securityHeaders`: Node's own
 * answer was a bare status line, and CONNECT a connection closed without a word.
 */
export async function startMetricsServer(
  metrics: Metrics,
  options: { port: number; host: string; token: string | undefined; server: BrokerConfig['server']; securityHeaders: Readonly<Record<string, string>> },
  log: Logger,
): Promise<MetricsServer> {
  const expected = options.token ? digest(options.token) : undefined;
  const server: Server = createHttpServer((request, response) => {
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    const refusal = refusalOf(request.method, request.url);
    if (refusal) return send(refusal.status, 'application/json', JSON.stringify(refusal.body), refusal.headers);
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
  }, options.server);
  server.maxConnections = METRICS_MAX_CONNECTIONS;
  answerParserErrors(server, { securityHeaders: options.securityHeaders, log });
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
