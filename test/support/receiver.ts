import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

/** One request a receiver got. */
export interface Received {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  /** http://127.0.0.1:<port> */
  origin: string;
  received: Received[];
  /** The statuses of the next answers, in order; once used up, every answer is 200. */
  answerWith(...statuses: number[]): void;
  /** From now on a GET of `path` gets `body` as `type` (a relying party's own page or script) instead of the small page. */
  serve(path: string, type: string, body: string): void;
  /** Resolves with the first request (from now on or already received) that `matches`; rejects after `ms`. */
  waitFor(matches: (request: Received) => boolean, ms?: number): Promise<Received>;
  close(): Promise<void>;
}

/**
 * A relying party's or an operator's endpoint as a real HTTP server on a free loopback port: it
 * keeps every request it gets and answers 200 (or the statuses it is told), with a small HTML page
 * for a GET so that a browser can load it in a frame, or the page it was told to serve there.
 * Closed after the file.
 */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const statuses: number[] = [];
  const pages = new Map<string, { type: string; body: string }>();
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', origin);
      received.push({ method: req.method ?? '', url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      for (const wake of waiters) wake();
      res.statusCode = statuses.shift() ?? 200;
      const page = (req.method === 'GET' && pages.get(url.pathname)) || { type: 'text/html; charset=utf-8', body: '<!doctype html><title>receiver</title><p>received</p>' };
      res.setHeader('content-type', page.type);
      res.end(page.body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const receiver: Receiver = {
    origin,
    received,
    answerWith: (...next) => statuses.push(...next),
    serve: (path, type, body) => pages.set(path, { type, body }),
    waitFor(matches, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.find(matches);
          if (!found) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the receiver at ${origin} got no matching request in ${ms} ms (got ${received.length})`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  afterAll(() => receiver.close());
  return receiver;
}
