import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Balancer {
  url: string;
  /** Which backend (by index) served each request, in order, with its path. */
  served: Array<{ backend: number; method: string; path: string }>;
  /** Takes a backend out of the rotation, as a health check does when an instance dies. */
  markDown(backend: number): void;
  /**
   * While set, an event stream's body is held until it ends, as a proxy that buffers responses
   * does (nginx with proxy_buffering and a backend that does not say X-Accel-Buffering).
   */
  buffersStreams: boolean;
  close(): Promise<void>;
}

/**
 * A load balancer as plain as they come: round robin over `backends` for every request, no
 * sticky sessions, and the usual proxy headers (X-Forwarded-For, -Proto, -Host).
 */
export async function startBalancer(backends: string[]): Promise<Balancer> {
  const served: Balancer['served'] = [];
  const down = new Set<number>();
  let next = 0;
  const pick = () => {
    for (let tries = 0; tries < backends.length && down.has(next); tries += 1) next = (next + 1) % backends.length;
    const picked = next;
    next = (next + 1) % backends.length;
    return picked;
  };
  const server: Server = createServer((incoming, outgoing) => {
    const backend = pick();
    served.push({ backend, method: incoming.method ?? 'GET', path: new URL(incoming.url ?? '/', 'http://balancer').pathname });
    const target = new URL(incoming.url ?? '/', backends[backend]);
    const forwarded = request(
      target,
      {
        method: incoming.method,
        headers: {
          ...incoming.headers,
          'x-forwarded-for': incoming.socket.remoteAddress ?? '',
          'x-forwarded-proto': 'http',
          'x-forwarded-host': incoming.headers.host ?? '',
        },
      },
      (response) => {
        if (balancer.buffersStreams && String(response.headers['content-type']).startsWith('text/event-stream')) return holdUntilEnd(response, outgoing);
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    forwarded.on('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end();
    });
    incoming.pipe(forwarded);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const balancer: Balancer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    markDown: (backend) => down.add(backend),
    buffersStreams: false,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return balancer;
}

/** Sends the headers of `response` on at once and its body only when it has ended; a browser that stops waiting ends it at the backend too. */
function holdUntilEnd(response: IncomingMessage, outgoing: ServerResponse): void {
  outgoing.writeHead(response.statusCode ?? 502, response.headers);
  outgoing.flushHeaders();
  const chunks: Buffer[] = [];
  response.on('data', (chunk: Buffer) => chunks.push(chunk));
  response.on('end', () => outgoing.end(Buffer.concat(chunks)));
  outgoing.on('close', () => response.destroy());
}
