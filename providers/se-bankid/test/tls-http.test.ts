import { once } from 'node:events';
import { createSecureContext, createServer, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { capturingLog } from '../../../test/support/ops.js';
import { BankIdApiError, BankIdClient } from '../api/client.js';
import { HttpCallError, TlsHttpClient, type TlsHttpClientOptions } from '../api/tls-http.js';
import { createTestPki, createUntrustedClientCertificate, type TestPki } from '../simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../simulator/server.js';

/**
 * The RP API's HTTP/1.1 client over real mutual TLS: against the BankID simulator, and against a
 * TLS server scripted per test for what the simulator never does (chunked bodies, answers in
 * pieces, closing a kept-alive connection, never answering).
 */

let pki: TestPki;
let simulator: BankIdSimulator;
const clients: TlsHttpClient[] = [];
const servers: ScriptedServer[] = [];

beforeAll(async () => {
  pki = await createTestPki();
  simulator = await startBankIdSimulator({ pki });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(() => simulator.close());

function client(origin: string, options: Partial<TlsHttpClientOptions> & { ca?: string } = {}): TlsHttpClient {
  const { ca = pki.serverCa, ...rest } = options;
  const made = new TlsHttpClient({
    origin: new URL(origin),
    secureContext: createSecureContext({ ca, cert: pki.client.cert, key: pki.client.key }),
    timeoutMs: 2_000,
    maxConnections: 4,
    keepAliveMs: 30_000,
    ...rest,
  });
  clients.push(made);
  return made;
}

const rpPath = () => new URL(simulator.apiUrl).pathname;
const json = (body: object) => JSON.stringify(body);

interface Request {
  method: string;
  path: string;
  headers: string;
  body: string;
  /** Which request on its connection it is, from 0. */
  index: number;
  /** Which request in its chunk of bytes it is, from 0: above 0, it came pipelined behind another. */
  inChunk: number;
  /** Which connection it came on, from 0 in the order they were accepted. */
  connection: number;
}

interface ScriptedServer {
  origin: string;
  /** Connections accepted in all. */
  accepted: number;
  /** The most connections open at once. */
  mostOpen: number;
  /** Connections that closed. */
  closed: number;
  close(): Promise<void>;
}

/** A TLS server with the simulator's certificates that answers each request as `answer` does. */
async function scriptedServer(answer: (socket: TLSSocket, request: Request) => void): Promise<ScriptedServer> {
  const sockets = new Set<TLSSocket>();
  const server = createServer({ cert: pki.server.cert, key: pki.server.key, ca: pki.clientCa, requestCert: true, rejectUnauthorized: true });
  const state = { origin: '', accepted: 0, mostOpen: 0, closed: 0, close: async () => {} };
  server.on('secureConnection', (socket: TLSSocket) => {
    state.accepted += 1;
    sockets.add(socket);
    state.mostOpen = Math.max(state.mostOpen, sockets.size);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      state.closed += 1;
    });
    let received = '';
    let index = 0;
    const connection = state.accepted - 1;
    socket.on('data', (chunk: Buffer) => {
      // Bytes as latin1 characters: lengths count bytes, as Content-Length does.
      received += chunk.toString('latin1');
      let inChunk = 0;
      for (;;) {
        const headEnd = received.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = received.slice(0, headEnd);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (received.length < headEnd + 4 + length) return;
        const [method = '', path = ''] = head.split(' ');
        const body = Buffer.from(received.slice(headEnd + 4, headEnd + 4 + length), 'latin1').toString('utf8');
        received = received.slice(headEnd + 4 + length);
        answer(socket, { method, path, headers: head, body, index: index++, inChunk: inChunk++, connection });
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.origin = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  state.close = async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  };
  servers.push(state);
  return state;
}

const ok = (body: string, extra = '') => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function failure(call: Promise<unknown>): Promise<HttpCallError> {
  const error = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(HttpCallError);
  return error as HttpCallError;
}

describe('the RP API client against the BankID simulator', () => {
  it('starts and collects an order, and answers BankID\'s 4xx and 5xx errors with their status and JSON', async () => {
    const rp = client(simulator.apiUrl);
    const started = await rp.call('POST', `${rpPath()}/auth`, json({ endUserIp: '127.0.0.1' }));
    expect(started.status).toBe(200);
    const { orderRef } = JSON.parse(started.body) as { orderRef: string };
    const collected = await rp.call('POST', `${rpPath()}/collect`, json({ orderRef }), { repeatable: true });
    expect(JSON.parse(collected.body)).toMatchObject({ orderRef, status: 'pending', hintCode: 'outstandingTransaction' });

    const unknown = await rp.call('POST', `${rpPath()}/collect`, json({ orderRef: 'no-such-order' }));
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body)).toMatchObject({ errorCode: 'invalidParameters' });

    simulator.injectFault('collect', { status: 503, errorCode: 'maintenance', details: 'try later' });
    const down = await rp.call('POST', `${rpPath()}/collect`, json({ orderRef }));
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({ errorCode: 'maintenance', details: 'try later' });
    // Every call above went over one kept-alive connection.
    expect(rp.connections).toBe(1);
  });

  it('pipelines repeatable calls on a few connections and matches each answer to its call', async () => {
    const rp = client(simulator.apiUrl, { maxConnections: 64, pipelineDepth: 8 });
    const orderRefs: string[] = [];
    for (let n = 0; n < 32; n += 1) orderRefs.push((JSON.parse((await rp.call('POST', `${rpPath()}/auth`, json({ endUserIp: '127.0.0.1' }))).body) as { orderRef: string }).orderRef);
    for (let round = 0; round < 2; round += 1) {
      const answers = await Promise.all(orderRefs.map((orderRef) => rp.call('POST', `${rpPath()}/collect`, json({ orderRef }), { repeatable: true })));
      expect(answers.map((answer) => (JSON.parse(answer.body) as { orderRef: string }).orderRef)).toEqual(orderRefs);
    }
    // 32 at once, 8 on each: four connections (one at a time would have opened 32).
    expect(rp.connections).toBe(4);
    expect(rp.pipelining).toBe(true);
  });

  it('fails a call to a server its CA does not vouch for, as a TLS failure rather than a timeout', async () => {
    const other = await createTestPki();
    const error = await failure(client(simulator.apiUrl, { ca: other.serverCa }).call('GET', `${rpPath()}/auth`));
    expect(error.timedOut).toBe(false);
    expect(error.message).toMatch(/certificate/);
  });

  it('fails a call when the server refuses its client certificate', async () => {
    const stranger = await createUntrustedClientCertificate();
    const rp = new TlsHttpClient({
      origin: new URL(simulator.apiUrl),
      secureContext: createSecureContext({ ca: pki.serverCa, cert: stranger.cert, key: stranger.key }),
      timeoutMs: 2_000,
      maxConnections: 1,
      keepAliveMs: 30_000,
    });
    clients.push(rp);
    expect((await failure(rp.call('POST', `${rpPath()}/auth`, json({ endUserIp: '127.0.0.1' })))).timedOut).toBe(false);
  });
});

describe('the RP API client over HTTP/1.1', () => {
  it('sends a JSON body with its length, and reuses one connection for calls one after another', async () => {
    const seen: Request[] = [];
    const server = await scriptedServer((socket, request) => {
      seen.push(request);
      socket.write(ok('{"n":1}'));
    });
    const rp = client(server.origin);
    for (let n = 0; n < 3; n += 1) expect(await rp.call('POST', '/rp/v6.0/collect', json({ orderRef: 'åäö' }))).toEqual({ status: 200, body: '{"n":1}' });
    expect(server.accepted).toBe(1);
    expect(seen.map((request) => request.index)).toEqual([0, 1, 2]);
    expect(seen[0]!.body).toBe('{"orderRef":"åäö"}');
    expect(seen[0]!.headers).toMatch(/\r\ncontent-type: application\/json\r\n/);
    expect(seen[0]!.headers).toMatch(/\r\ncontent-length: 21(\r\n|$)/);
    expect(seen[0]!.headers).toMatch(/\r\nhost: 127\.0\.0\.1:\d+(\r\n|$)/);
  });

  it('reads a chunked body, with chunk extensions and trailers, arriving in pieces', async () => {
    const server = await scriptedServer((socket) => {
      void (async () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
        for (const piece of ['9;ext=1\r\n{"a":"å', '"\r\n', '7\r\n,"b', '":2}\r\n', '0\r\n', 'x-trailer: 1\r\n', '\r\n']) {
          await sleep(10);
          socket.write(piece);
        }
      })();
    });
    const rp = client(server.origin);
    expect(await rp.call('GET', '/x')).toEqual({ status: 200, body: '{"a":"å","b":2}' });
    // The connection stays usable after a chunked answer.
    expect(await rp.call('GET', '/x')).toEqual({ status: 200, body: '{"a":"å","b":2}' });
    expect(server.accepted).toBe(1);
  });

  it('reads a Content-Length body that arrives in pieces, split inside a character', async () => {
    const body = Buffer.from('{"name":"Åsa Öberg"}');
    const sliced = await scriptedServer((socket) => {
      const answer = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`), body]);
      const cuts = [0, 5, 30, answer.length - 8, answer.length - 3, answer.length];
      void (async () => {
        for (let index = 1; index < cuts.length; index += 1) {
          socket.write(answer.subarray(cuts[index - 1], cuts[index]));
          await sleep(10);
        }
      })();
    });
    expect(await client(sliced.origin).call('GET', '/x')).toEqual({ status: 200, body: body.toString() });
  });

  it('skips an informational answer before the real one', async () => {
    const server = await scriptedServer((socket) => socket.write(`HTTP/1.1 100 Continue\r\n\r\n${ok('{}')}`));
    expect(await client(server.origin).call('POST', '/x', '{}')).toEqual({ status: 200, body: '{}' });
  });

  it('reads a body that runs to the connection\'s close, and does not reuse that connection', async () => {
    const server = await scriptedServer((socket) => {
      socket.write('HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\r\n{"errorCode":"internalError",');
      void sleep(10).then(() => socket.end('"details":""}'));
    });
    const rp = client(server.origin);
    expect(await rp.call('POST', '/x', '{}')).toEqual({ status: 500, body: '{"errorCode":"internalError","details":""}' });
    expect(await rp.call('POST', '/x', '{}')).toMatchObject({ status: 500 });
    expect(server.accepted).toBe(2);
  });

  it('does not reuse a connection the server answered with Connection: close or a keep-alive of a second', async () => {
    for (const header of ['connection: close\r\n', 'keep-alive: timeout=1\r\n']) {
      const server = await scriptedServer((socket) => socket.write(ok('{}', header)));
      const rp = client(server.origin);
      await rp.call('GET', '/x');
      await rp.call('GET', '/x');
      expect(server.accepted).toBe(2);
    }
  });

  it('opens a new connection when the server closed a kept-alive one after answering', async () => {
    const server = await scriptedServer((socket) => {
      socket.write(ok('{}'));
      void sleep(10).then(() => socket.end());
    });
    const rp = client(server.origin);
    await rp.call('GET', '/x');
    await sleep(100);
    expect(await rp.call('GET', '/x')).toEqual({ status: 200, body: '{}' });
    expect(server.accepted).toBe(2);
  });

  it('sends a repeatable call again when a kept-alive connection closes as the call goes out; fails any other', async () => {
    // The server drops every connection on its second request, before answering it: what a
    // server closing an idle connection just as a call arrives looks like.
    const server = await scriptedServer((socket, request) => {
      if (request.index === 0) socket.write(ok(`{"path":"${request.path}"}`));
      else socket.destroy();
    });
    const rp = client(server.origin, { maxConnections: 1 });
    await rp.call('POST', '/first', '{}');
    expect(await rp.call('POST', '/collect', '{}', { repeatable: true })).toEqual({ status: 200, body: '{"path":"/collect"}' });
    expect(server.accepted).toBe(2);
    const error = await failure(rp.call('POST', '/auth', '{}'));
    expect(error.message).toMatch(/closed|reset|socket hang up/i);
    expect(error.timedOut).toBe(false);
  });

  it('fails a call whose answer stops halfway when the server closes', async () => {
    const server = await scriptedServer((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"orderRef":'));
    const error = await failure(client(server.origin).call('POST', '/x', '{}', { repeatable: true }));
    expect(error.message).toContain('closed the connection before the answer was complete');
  });

  it('fails a call on an answer that is not HTTP/1.1, and drops the connection', async () => {
    const server = await scriptedServer((socket) => socket.write('SSH-2.0-OpenSSH\r\n\r\n'));
    const rp = client(server.origin);
    expect((await failure(rp.call('GET', '/x'))).message).toBe('not an HTTP/1.1 answer');
    await sleep(50);
    expect(server.closed).toBe(1);
  });

  it('times out a call that gets no answer, closes its connection, and serves the next call on a new one', async () => {
    const server = await scriptedServer((socket, request) => {
      if (request.path !== '/silent') socket.write(ok('{}'));
    });
    const rp = client(server.origin, { timeoutMs: 200 });
    const error = await failure(rp.call('POST', '/silent', '{}'));
    expect(error.timedOut).toBe(true);
    expect(await rp.call('GET', '/x')).toEqual({ status: 200, body: '{}' });
    expect(server.accepted).toBe(2);
    expect(server.closed).toBe(1);
  });

  it('times out a call waiting for a connection as well', async () => {
    const server = await scriptedServer(() => {});
    const rp = client(server.origin, { timeoutMs: 200, maxConnections: 1 });
    const errors = await Promise.all([failure(rp.call('GET', '/a')), failure(rp.call('GET', '/b'))]);
    expect(errors.map((error) => error.timedOut)).toEqual([true, true]);
    expect(server.accepted).toBe(1);
  });

  it('keeps at most maxConnections open; further calls wait and go out as connections free up', async () => {
    const server = await scriptedServer((socket, request) => void sleep(30).then(() => socket.write(ok(`{"path":"${request.path}"}`))));
    const rp = client(server.origin, { maxConnections: 2 });
    const answers = await Promise.all(Array.from({ length: 8 }, (_, n) => rp.call('GET', `/${n}`)));
    expect(answers.map((answer) => answer.body)).toEqual(Array.from({ length: 8 }, (_, n) => `{"path":"/${n}"}`));
    expect(server.mostOpen).toBe(2);
    expect(server.accepted).toBe(2);
  });

  it('fails with a clear error when nothing listens', async () => {
    const server = await scriptedServer(() => {});
    const { origin } = server;
    await server.close();
    const error = await failure(client(origin).call('GET', '/x'));
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  it('on close fails the calls under way and waiting, closes its connections, and refuses later calls', async () => {
    const server = await scriptedServer(() => {});
    const rp = client(server.origin, { maxConnections: 1 });
    const underWay = failure(rp.call('GET', '/a'));
    const waiting = failure(rp.call('GET', '/b'));
    await sleep(100);
    await rp.close();
    expect((await underWay).message).toBe('the client is closed');
    expect((await waiting).message).toBe('the client is closed');
    expect((await failure(rp.call('GET', '/c'))).message).toBe('the client is closed');
    expect(rp.connections).toBe(0);
    await sleep(50);
    expect(server.closed).toBe(1);
  });
});

describe('the RP API client pipelining repeatable calls', () => {
  const paths = (count: number) => Array.from({ length: count }, (_, n) => `/collect/${n}`);
  const collect = (rp: TlsHttpClient, path: string) => rp.call('POST', path, '{}', { repeatable: true });
  const echo = (socket: TLSSocket, request: Request, extra = '') => socket.write(ok(`{"path":"${request.path}"}`, extra));
  /** A server answering every request with its path, the requests it saw, and a client pipelining 4 deep. */
  async function echoing(): Promise<{ seen: Request[]; rp: TlsHttpClient }> {
    const seen: Request[] = [];
    const server = await scriptedServer((socket, request) => {
      seen.push(request);
      echo(socket, request);
    });
    return { seen, rp: client(server.origin, { pipelineDepth: 4 }) };
  }

  it('writes the calls of one turn in one write on one connection, and never pipelines a call that is not repeatable', async () => {
    const { seen, rp } = await echoing();
    const calls = [...paths(4).map((path) => collect(rp, path)), rp.call('POST', '/auth', '{}'), collect(rp, '/collect/4')];
    const answers = await Promise.all(calls);
    expect(answers.map((answer) => answer.body)).toEqual([...paths(4), '/auth', '/collect/4'].map((path) => `{"path":"${path}"}`));
    const onConnection = (path: string) => seen.find((request) => request.path === path)!.connection;
    expect(seen.filter((request) => request.connection === onConnection('/collect/0')).map((request) => [request.path, request.inChunk])).toEqual(paths(4).map((path, n) => [path, n]));
    expect(seen.filter((request) => request.connection === onConnection('/auth')).map((request) => request.path)).toEqual(['/auth']);
    expect(onConnection('/collect/4')).not.toBe(onConnection('/auth'));
    expect(rp.pipelining).toBe(true);
  });

  it('puts no call that is not repeatable on a connection whose pipeline was answered, behind a collect that takes it again', async () => {
    const { seen, rp } = await echoing();
    await Promise.all(paths(2).map((path) => collect(rp, path)));
    await Promise.all([collect(rp, '/collect/2'), rp.call('POST', '/auth', '{}')]);
    const auth = seen.find((request) => request.path === '/auth')!;
    expect(auth.inChunk).toBe(0);
    expect(seen.filter((request) => request.connection === auth.connection).map((request) => request.path)).toEqual(['/auth']);
  });

  it('sends the unanswered calls again when the server announces its close mid-pipeline, and goes on pipelining', async () => {
    const server = await scriptedServer((socket, request) => {
      if (request.index === 1) socket.end(ok(`{"path":"${request.path}"}`, 'connection: close\r\n'));
      else if (request.index === 0 || request.inChunk === 0) echo(socket, request);
    });
    const rp = client(server.origin, { pipelineDepth: 4 });
    const answers = await Promise.all(paths(4).map((path) => collect(rp, path)));
    expect(answers.map((answer) => answer.body)).toEqual(paths(4).map((path) => `{"path":"${path}"}`));
    expect(server.accepted).toBe(2);
    expect(rp.pipelining).toBe(true);
  });

  it('stops pipelining when the server closes mid-pipeline unannounced, and sends the unanswered calls again, once', async () => {
    const server = await scriptedServer((socket, request) => {
      if (request.inChunk > 0) return;
      echo(socket, request);
      socket.destroy();
    });
    const rp = client(server.origin, { pipelineDepth: 4 });
    const answers = await Promise.all(paths(4).map((path) => collect(rp, path)));
    expect(answers.map((answer) => answer.body)).toEqual(paths(4).map((path) => `{"path":"${path}"}`));
    expect(rp.pipelining).toBe(false);
    // The first connection answered one call; each call sent again went alone on a new one.
    expect(server.accepted).toBe(4);
  });

  it('stops pipelining when the server answers only the first call of a pipeline: the next times out, the rest go again', async () => {
    const seen: Request[] = [];
    const server = await scriptedServer((socket, request) => {
      seen.push(request);
      if (request.inChunk === 0) echo(socket, request);
    });
    const rp = client(server.origin, { pipelineDepth: 4, timeoutMs: 300 });
    const outcomes = await Promise.allSettled(paths(4).map((path) => collect(rp, path)));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(((outcomes[1] as PromiseRejectedResult).reason as HttpCallError).timedOut).toBe(true);
    expect(rp.pipelining).toBe(false);
    const later = await Promise.all(paths(3).map((path) => collect(rp, path)));
    expect(later.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(seen.slice(4).every((request) => request.inChunk === 0)).toBe(true);
  });

  it('sends pipelined calls again, and goes on pipelining, when a kept-alive connection closes as they go out', async () => {
    // The first connection is dropped as its second request (the pipeline's first) arrives.
    const server = await scriptedServer((socket, request) => {
      if (request.connection === 0 && request.index === 1) socket.destroy();
      else echo(socket, request);
    });
    const rp = client(server.origin, { pipelineDepth: 4 });
    await collect(rp, '/first');
    const answers = await Promise.all(paths(2).map((path) => collect(rp, path)));
    expect(answers.map((answer) => answer.body)).toEqual(paths(2).map((path) => `{"path":"${path}"}`));
    expect(server.accepted).toBe(2);
    expect(rp.pipelining).toBe(true);
  });
});

describe("the BankID client's collects", () => {
  /** A BankID client, pipelining, against a server that answers each collect with the order `answerFor` names. */
  async function bankIdAnswering(answerFor: (asked: string) => string) {
    const server = await scriptedServer((socket, request) => {
      const { orderRef } = JSON.parse(request.body) as { orderRef: string };
      socket.write(ok(JSON.stringify({ orderRef: answerFor(orderRef), status: 'pending', hintCode: 'outstandingTransaction' })));
    });
    const captured = capturingLog();
    const bankId = new BankIdClient({
      url: `${server.origin}/rp/v6.0`,
      tls: { ca: pki.serverCa, cert: pki.client.cert, key: pki.client.key },
      timeoutMs: 2_000,
      log: captured.log,
      pipelineCollects: true,
    });
    bankIdClients.push(bankId);
    return { bankId, captured };
  }
  const bankIdClients: BankIdClient[] = [];
  afterEach(async () => {
    await Promise.all(bankIdClients.splice(0).map((bankId) => bankId.close()));
  });

  it('take an answer naming the order asked about, pipelined or not', async () => {
    const { bankId } = await bankIdAnswering((asked) => asked);
    const answers = await Promise.all(['order-1', 'order-2', 'order-3'].map((orderRef) => bankId.collect(orderRef)));
    expect(answers.map((answer) => answer.orderRef)).toEqual(['order-1', 'order-2', 'order-3']);
  });

  it('refuse an answer naming another order, as BankID failing for a moment, so the login waits and asks again', async () => {
    const { bankId, captured } = await bankIdAnswering((asked) => (asked === 'order-2' ? 'order-1' : asked));
    const [first, second] = await Promise.allSettled([bankId.collect('order-1'), bankId.collect('order-2')]);
    expect(first).toMatchObject({ status: 'fulfilled', value: { orderRef: 'order-1' } });
    expect(second.status).toBe('rejected');
    const refused = (second as PromiseRejectedResult).reason as BankIdApiError;
    expect(refused).toBeInstanceOf(BankIdApiError);
    expect(refused.errorCode).toBe('mismatchedAnswer');
    expect(refused.isOutage).toBe(true);
    expect(captured.lines().some((line) => line.level === 50 && /another/.test(String(line.msg)))).toBe(true);
  });
});
