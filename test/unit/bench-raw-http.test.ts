import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Browser, keepAliveAgent } from '../../bench/lib/http.js';
import { KeptAliveConnection, requestBytes, type Address } from '../../bench/lib/raw-http.js';
import { EventStreamClient, type StreamEvent } from '../../bench/load/event-stream-client.js';

/** The bench's raw HTTP/1.1 client (the waiting pages' polls) against Node's own HTTP server. */

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function serve(handler: (request: IncomingMessage, response: ServerResponse, body: string) => void): Promise<Address & { sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (piece: string) => (body += piece));
    request.on('end', () => handler(request, response, body));
  });
  server.on('connection', (socket: Socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { host: '127.0.0.1', port: (server.address() as AddressInfo).port, sockets };
}

const post = (address: Address, path = '/poll') => requestBytes('POST', `${address.host}:${address.port}`, path, { 'content-type': 'application/json' }, '{"å":1}');

describe('bench raw HTTP/1.1 client', () => {
  it('sends the request as built and reads answers with a Content-Length, chunked, on one kept-alive connection', async () => {
    const seen: string[] = [];
    const address = await serve((request, response, body) => {
      seen.push(`${request.method} ${request.url} ${request.headers['content-type']} ${body}`);
      if (request.url === '/chunked') {
        response.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/poll']);
        response.write('{"status":');
        setTimeout(() => response.end('"IN_PROGRESS","x":"ö"}'), 20);
      } else {
        response.writeHead(429, { 'content-type': 'application/json', 'content-length': '21', 'retry-after': '3' }).end('{"error":"slow_down"}');
      }
    });
    const connection = new KeptAliveConnection(address);
    const first = await connection.send(post(address));
    expect(first).toMatchObject({ status: 429, text: '{"error":"slow_down"}', headers: { 'retry-after': '3', 'content-length': '21' } });
    const second = await connection.send(post(address, '/chunked'));
    expect(second.status).toBe(200);
    expect(second.headers['transfer-encoding']).toBe('chunked');
    expect(second.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/poll']);
    expect(JSON.parse(second.text)).toEqual({ status: 'IN_PROGRESS', x: 'ö' });
    expect(seen).toEqual(['POST /poll application/json {"å":1}', 'POST /chunked application/json {"å":1}']);
    expect(address.sockets.size).toBe(1);
    connection.close();
  });

  it('reads a body that runs to the close, and connects again for the next request', async () => {
    const address = await serve((_request, response) => {
      response.shouldKeepAlive = false;
      response.end('bye');
    });
    const connection = new KeptAliveConnection(address);
    expect(await connection.send(post(address))).toMatchObject({ status: 200, text: 'bye', headers: { connection: 'close' } });
    expect(await connection.send(post(address))).toMatchObject({ status: 200, text: 'bye' });
    expect(address.sockets.size).toBe(2);
  });

  it('connects again after the server closed the idle connection (its keep-alive timeout)', async () => {
    const address = await serve((_request, response) => response.end('ok'));
    const connection = new KeptAliveConnection(address);
    await connection.send(post(address));
    server!.closeIdleConnections();
    expect(await connection.send(post(address))).toMatchObject({ status: 200, text: 'ok' });
    expect(address.sockets.size).toBe(2);
    connection.close();
  });

  it('sends a request again, once, when its kept-alive connection closes before any byte of an answer', async () => {
    let requests = 0;
    const address = await serve((request, response) => {
      requests += 1;
      // The second request meets the server closing the connection, as its keep-alive timeout would.
      if (requests === 2) request.socket.destroy();
      else response.end(`answer ${requests}`);
    });
    const connection = new KeptAliveConnection(address);
    await connection.send(post(address));
    expect(await connection.send(post(address))).toMatchObject({ status: 200, text: 'answer 3' });
    expect(address.sockets.size).toBe(2);
    connection.close();
  });

  it('fails a request whose connection closes mid-answer, and one sent with another under way', async () => {
    const address = await serve((_request, response) => {
      response.writeHead(200, { 'content-length': '100' });
      response.write('partial');
      setTimeout(() => response.socket?.destroy(), 20);
    });
    const connection = new KeptAliveConnection(address);
    const pending = connection.send(post(address));
    await expect(connection.send(post(address))).rejects.toThrow('under way');
    await expect(pending).rejects.toThrow('mid-answer');
  });

  it('builds a page poll from the browser: its cookies for the path, origin, JSON content type', async () => {
    const address = await serve((request, response) => {
      response.setHeader('set-cookie', request.url === '/start' ? ['_interaction=abc; Path=/interaction/x; HttpOnly', 'other=1; Path=/elsewhere'] : []);
      response.end(JSON.stringify({ cookie: request.headers.cookie, origin: request.headers.origin, accept: request.headers.accept, host: request.headers.host }));
    });
    const origin = `http://${address.host}:${address.port}`;
    const browser = new Browser(origin, keepAliveAgent(1));
    await browser.postJson('/start');
    const answer = await new KeptAliveConnection(address).send(browser.jsonPostBytes('/interaction/x/api/poll?qr=true'));
    expect(JSON.parse(answer.text)).toEqual({ cookie: '_interaction=abc', origin, accept: 'application/json', host: `${address.host}:${address.port}` });
  });

  it('reads an event stream in chunks, a character split between two of them, to its last chunk', async () => {
    const address = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const frame = Buffer.from('event: qr\nid: 1\ndata: å\n\n');
      const split = frame.indexOf(Buffer.from('å')) + 1;
      response.write(': heartbeat\n\n');
      response.write(frame.subarray(0, split));
      setTimeout(() => {
        response.write(frame.subarray(split));
        response.end('event: done\ndata: {}\n\n');
      }, 20);
    });
    const events: StreamEvent[] = [];
    const closed = new Promise<Error | undefined>((resolve) => {
      new EventStreamClient(
        { ...address, hostHeader: 'broker.example', path: '/interaction/x/api/events', cookie: 'a=1' },
        { opened: (status) => events.push({ event: 'opened', data: String(status) }), event: (event) => events.push(event), closed: resolve },
      );
    });
    expect(await closed).toBeUndefined();
    expect(events).toEqual([
      { event: 'opened', data: '200' },
      { event: 'qr', id: '1', data: 'å' },
      { event: 'done', data: '{}' },
    ]);
  });
});
