import { once } from 'node:events';
import type { Server } from 'node:http';
import { connect, Socket, type AddressInfo } from 'node:net';
import v8 from 'node:v8';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerConfig } from '../../src/config/schema.js';
import { EventStream } from '../../src/http/event-stream.js';
import { createHttpServer } from '../../src/http/server.js';
import { securityHeaders, securityHeadersFor } from '../../src/http/security-headers.js';
import { OpenEventStreams } from '../../src/login/event-streams.js';
import { Metrics } from '../../src/metrics/metrics.js';

/**
 * An event stream's connection once the stream opens: taken from Node's HTTP server and Koa,
 * written to by the stream itself. Served here by the broker's own HTTP server and stream
 * classes, in a Koa app of the test's, so that the test holds the streams it opens.
 */

const serverSettings: BrokerConfig['server'] = { headers_timeout_seconds: 1, request_timeout_seconds: 1, keep_alive_timeout_seconds: 1, max_connections: 0, max_connections_per_ip: 0, listen_backlog: 511, max_body_bytes: 32_768 };

interface Bed {
  server: Server;
  port: number;
  streams: OpenEventStreams;
  metrics: Metrics;
  /** The streams opened so far, in order. */
  opened: EventStream[];
}

let bed: Bed | undefined;
afterEach(async () => {
  bed?.streams.close();
  bed?.server.closeAllConnections();
  await new Promise((resolve) => bed?.server.close(resolve) ?? resolve(undefined));
  bed = undefined;
});

interface BedOptions {
  heartbeatSeconds?: number;
  /** What the route waits for before it asks for a stream, as the broker's reads and checks the interaction. */
  checks?: Promise<void>;
  /** What the route waits for before it opens the stream, as the broker's waits for the eID to find the login. */
  looksUp?: Promise<void>;
}

async function startBed({ heartbeatSeconds = 60, checks, looksUp }: BedOptions = {}): Promise<Bed> {
  const metrics = new Metrics();
  // Every stream comes from one address; the login is the path's (/interaction/<login>/api/events).
  const streams = new OpenEventStreams({ per_login: 2, per_ip: 4, heartbeat_seconds: heartbeatSeconds }, metrics);
  const opened: EventStream[] = [];
  const app = new Koa();
  app.silent = true;
  app.use(securityHeaders(securityHeadersFor('http://127.0.0.1')));
  app.use(async (ctx, next) => {
    ctx.set('traceId', '0123456789abcdef');
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  app.use(async (ctx) => {
    await checks;
    // The address the broker would see (ctx.ip): the test's own header, else one for all.
    const stream = streams.admit(ctx, ctx.path.split('/')[2]!, ctx.get('x-test-address') || '192.0.2.1');
    opened.push(stream);
    await looksUp;
    stream.open();
    stream.send('status', '{"status":"IN_PROGRESS"}');
  });
  const server = createHttpServer(app.callback(), serverSettings);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  bed = { server, port: (server.address() as AddressInfo).port, streams, metrics, opened };
  return bed;
}

/** Whether V8 keeps the object's properties in its fast layout (V8's own test, with natives syntax allowed for this check). */
function hasFastProperties(object: object): boolean {
  v8.setFlagsFromString('--allow-natives-syntax');
  return (new Function('object', 'return %HasFastProperties(object)') as (object: object) => boolean)(object);
}

/** A raw client: what it receives, as text, and the socket. */
async function openStream(port: number, method = 'GET', login = 'x', address?: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  await once(socket, 'connect');
  const from = address ? `X-Test-Address: ${address}\r\n` : '';
  socket.write(`${method} /interaction/${login}/api/events HTTP/1.1\r\nHost: broker.test\r\nAccept: text/event-stream\r\n${from}\r\n`);
  return { socket, received: () => text, closed };
}

/** Sends big events to a stream whose reader has stopped reading, until they queue. */
async function fallBehind(stream: EventStream): Promise<void> {
  const event = 'x'.repeat(16 * 1024);
  while (stream.writable) {
    stream.send('big', event);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function until(test: () => boolean): Promise<void> {
  while (!test()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('an open event stream', () => {
  it('goes out with the headers set before it opened, and its body ends with the connection', async () => {
    const { port, opened } = await startBed();
    const client = await openStream(port);
    await until(() => client.received().includes('IN_PROGRESS'));
    const [head, body] = client.received().split('\r\n\r\n') as [string, string];
    const headers = new Map(head.split('\r\n').slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 2)]));
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(headers.get('traceid')).toBe('0123456789abcdef');
    expect(headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(headers.get('x-frame-options')).toBe('DENY');
    expect(headers.get('cache-control')).toBe('no-store, no-transform');
    expect(headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(headers.get('connection')).toBe('close');
    expect(headers.has('transfer-encoding')).toBe(false);
    expect(headers.has('content-length')).toBe(false);
    expect(body).toBe('retry: 2000\n\nevent: status\ndata: {"status":"IN_PROGRESS"}\n\n');

    opened[0]!.send('done', '{}');
    opened[0]!.end();
    await client.closed;
    expect(client.received().endsWith('event: done\ndata: {}\n\n')).toBe(true);
  });

  it('outlives the server request and headers timeouts, and is no connection of the HTTP server any more', async () => {
    const { port, server, opened } = await startBed();
    const client = await openStream(port);
    await until(() => client.received().includes('IN_PROGRESS'));
    // Past request_timeout (1 s) and two of the server's checks of its connections.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    server.closeAllConnections();
    opened[0]!.send('status', '{"status":"STILL"}');
    await until(() => client.received().includes('STILL'));
    expect(opened[0]!.ended).toBe(false);
    client.socket.destroy();
    await until(() => opened[0]!.ended);
  });

  it("keeps its socket with net.Socket's own methods, laid out as a fast object rather than a dictionary", async () => {
    const { port, server } = await startBed();
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = await openStream(port);
    const [socket] = await accepted;
    await until(() => client.received().includes('IN_PROGRESS'));
    for (const method of ['on', 'addListener', 'prependListener', 'setEncoding'] as const) expect(socket[method]).toBe(Socket.prototype[method]);
    // A dictionary costs an open stream's socket about 1.3 KB more: 13 MB at 10,000 waiting logins.
    expect(hasFastProperties(socket)).toBe(true);
    const lostOne: Record<string, number> = { a: 1, b: 2 };
    delete lostOne.a;
    expect(hasFastProperties(lostOne)).toBe(false);
    client.socket.destroy();
  });

  it('is dropped once the reader falls 64 KB behind, and counts no more against its login', async () => {
    const { port, opened, streams } = await startBed();
    const client = await openStream(port);
    await until(() => client.received().includes('IN_PROGRESS'));
    client.socket.pause();
    const stream = opened[0]!;
    const event = 'x'.repeat(16 * 1024);
    let sent = 0;
    // The kernel's buffers on both sides take their share first; 64 MB is far beyond them.
    while (!stream.ended && sent < 64 * 2 ** 20) {
      stream.send('big', event);
      sent += event.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(stream.ended).toBe(true);
    // Reading again, the client finds the connection gone: the stream did not just stop writing.
    client.socket.resume();
    await client.closed;
    // per_login is 2: two more fit now that the dropped one is gone.
    const more = [await openStream(port), await openStream(port)];
    await until(() => more.every((c) => c.received().includes('IN_PROGRESS')));
    expect(opened.slice(1).every((s) => !s.ended)).toBe(true);
    streams.close();
    await Promise.all(more.map((c) => c.closed));
  });

  it('ends when the instance closes its streams, a reader that is behind at once, and the HTTP server then closes', async () => {
    const { port, server, streams, opened } = await startBed();
    const reading = await openStream(port);
    const stalled = await openStream(port);
    await until(() => reading.received().includes('IN_PROGRESS') && stalled.received().includes('IN_PROGRESS'));
    stalled.socket.pause();
    const behind = opened[1]!;
    await fallBehind(behind);
    const closed = new Promise((resolve) => server.close(resolve));
    streams.close();
    expect(behind.ended).toBe(true);
    await reading.closed;
    expect(reading.received().endsWith('IN_PROGRESS"}\n\n')).toBe(true);
    await closed;
  });

  it('drops a reader that is behind when its stream ends, and the HTTP server then closes', async () => {
    const { port, server, opened } = await startBed();
    const stalled = await openStream(port);
    await until(() => stalled.received().includes('IN_PROGRESS'));
    stalled.socket.pause();
    const behind = opened[0]!;
    await fallBehind(behind);
    behind.send('done', '{}');
    behind.end();
    // A connection kept until its reader reads would hold the server's close for as long.
    await new Promise((resolve) => server.close(resolve));
    stalled.socket.resume();
    await stalled.closed;
  });

  it('answers HEAD with the head alone, and holds nothing open for it', async () => {
    const { port, opened } = await startBed();
    const client = await openStream(port, 'HEAD');
    await client.closed;
    const [head, body] = client.received().split('\r\n\r\n') as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\ncontent-type: text\/event-stream; charset=utf-8\r\n/i);
    expect(body).toBe('');
    expect(opened[0]!.ended).toBe(true);
  });

  it('answers a stream that had not opened when the instance closed its streams as one asked for after: 503', async () => {
    let found!: () => void;
    const { port, streams, opened } = await startBed({ looksUp: new Promise((resolve) => (found = resolve)) });
    const client = await openStream(port);
    await until(() => opened.length === 1);
    streams.close();
    found();
    await until(() => client.received().includes('\r\n\r\n'));
    expect(client.received()).toMatch(/^HTTP\/1\.1 503 /);
    expect(opened[0]!.ended).toBe(true);
  });

  it('counts nothing for a browser that went away before its stream was asked for', async () => {
    let checked!: () => void;
    const { port, server, opened } = await startBed({ checks: new Promise((resolve) => (checked = resolve)) });
    const connected = once(server, 'connection') as Promise<[Socket]>;
    const arrived = once(server, 'request');
    const gone = await openStream(port);
    const [connection] = await connected;
    await arrived;
    gone.socket.destroy();
    // The server has seen the connection close before the route asks for the stream.
    await once(connection, 'close');
    checked();
    await until(() => opened.length === 1);
    expect(opened[0]!.ended).toBe(true);
    // per_login is 2: both fit, the gone browser's stream holding no place.
    const more = [await openStream(port), await openStream(port)];
    await until(() => more.every((client) => client.received().includes('IN_PROGRESS')));
  });

  it('gets a heartbeat only when it was idle for heartbeat_seconds: a stream sending frames gets none', async () => {
    const { port, opened } = await startBed({ heartbeatSeconds: 2 });
    const framed = await openStream(port);
    const idle = await openStream(port);
    await until(() => framed.received().includes('IN_PROGRESS') && idle.received().includes('IN_PROGRESS'));
    // Frames every 100 ms for longer than a heartbeat_seconds and a sweep of the streams.
    for (let id = 1; id <= 35; id += 1) {
      opened[0]!.offer('qr', `frame ${id}`, id);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(framed.received()).toContain('id: 35\nevent: qr\ndata: frame 35\n\n');
    expect(framed.received()).not.toContain(': \n\n');
    expect(idle.received()).toContain('IN_PROGRESS"}\n\n: \n\n');
  });
});

describe('the event streams of one address', () => {
  // One subscriber holds a whole IPv6 /64 and picks any address in it, as the rate limits and the
  // connection cap count it: by address, each stream could come from an address of its own.
  it('are those of its IPv6 /64', async () => {
    const { port } = await startBed();
    const inOneNetwork = [1, 2, 3, 4].map((host) => openStream(port, 'GET', `login-${host}`, `2001:db8:1:2::${host}`));
    const clients = await Promise.all(inOneNetwork);
    await until(() => clients.every((client) => client.received().includes('IN_PROGRESS')));
    const fifth = await openStream(port, 'GET', 'login-5', '2001:db8:1:2:ffff::5');
    await until(() => fifth.received().includes('\r\n\r\n'));
    expect(fifth.received().split('\r\n')[0]).toBe('HTTP/1.1 429 Too Many Requests');
    const anotherNetwork = await openStream(port, 'GET', 'login-6', '2001:db8:1:3::6');
    await until(() => anotherNetwork.received().includes('IN_PROGRESS'));
    for (const client of [...clients, fifth, anotherNetwork]) client.socket.destroy();
  });
});

describe('the metrics of the event streams', () => {
  it('neb_event_streams_open counts each stream from its admission until it is closed, dropped or ended by the instance; a refusal counts by its limit', async () => {
    const { port, opened, streams, metrics } = await startBed();
    const open = async () => (await metrics.eventStreamsOpen.get()).values[0]?.value;
    const refused = async (by: string) => (await metrics.rateLimited.get()).values.find(({ labels }) => labels.limit === 'event_streams' && labels.by === by)?.value ?? 0;
    // per_login is 2 and per_ip 4: two streams of each of two logins fill the address's share.
    const clients = [await openStream(port, 'GET', 'a'), await openStream(port, 'GET', 'a'), await openStream(port, 'GET', 'b'), await openStream(port, 'GET', 'b')];
    await until(() => clients.every((client) => client.received().includes('IN_PROGRESS')));
    expect(await open()).toBe(4);
    const refusedFor = async (login: string) => {
      const client = await openStream(port, 'GET', login);
      await until(() => client.received().includes('\r\n\r\n'));
      client.socket.destroy();
      return client.received().split('\r\n')[0];
    };
    expect(await refusedFor('a')).toBe('HTTP/1.1 429 Too Many Requests');
    expect(await refusedFor('c')).toBe('HTTP/1.1 429 Too Many Requests');
    expect([await refused('login'), await refused('ip')]).toEqual([1, 1]);
    expect(await open()).toBe(4);

    // The browser goes away.
    clients[0]!.socket.destroy();
    await until(() => opened[0]!.ended);
    expect(await open()).toBe(3);
    // Dropped, as a reader that falls behind is.
    opened[1]!.drop();
    await clients[1]!.closed;
    expect(await open()).toBe(2);
    // The instance starts to shut down: the rest end, one of them with a reader behind.
    clients[2]!.socket.pause();
    await fallBehind(opened[2]!);
    streams.close();
    await clients[3]!.closed;
    expect(await open()).toBe(0);
  });
});
