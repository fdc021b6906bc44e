import { createServer, type RequestListener, type Server } from 'node:http';
import type { BrokerConfig } from '../config/schema.js';

/** How often Node looks for connections past their headers or request timeout. */
const TIMEOUT_CHECK_MS = 1000;

/**
 * The broker's HTTP server, with the `server` limits: a client that sends its headers or its
 * body too slowly is answered 408 and disconnected, an idle kept-alive connection is closed,
 * and connections beyond the cap are closed at once. Node's own defaults would keep a slow
 * request open for 5 minutes.
 */
export function createHttpServer(listener: RequestListener, settings: BrokerConfig['server']): Server {
  const server = createServer(
    {
      headersTimeout: settings.headers_timeout_seconds * 1000,
      requestTimeout: settings.request_timeout_seconds * 1000,
      connectionsCheckingInterval: TIMEOUT_CHECK_MS,
    },
    listener,
  );
  server.keepAliveTimeout = settings.keep_alive_timeout_seconds * 1000;
  if (settings.max_connections > 0) server.maxConnections = settings.max_connections;
  return server;
}
