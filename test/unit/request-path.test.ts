import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';
import { signedCookie } from '../../src/http/signed-cookies.js';
import { trace } from '../../src/http/trace.js';
import { createLogger } from '../../src/log.js';

const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

/** A Koa app on a real port: its address. */
async function serve(app: Koa): Promise<string> {
  const server = createServer(app.callback()).listen(0, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the access line of a routine request', () => {
  it('is written at debug when the request succeeds, at info when it fails; other requests at info', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger('debug', { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const app = new Koa();
    app.use(trace(log, false, (ctx) => ctx.path === '/poll'));
    app.use((ctx) => {
      ctx.status = ctx.query.busy ? 429 : 200;
      ctx.body = {};
    });
    const base = await serve(app);
    for (const path of ['/poll', '/poll?busy=1', '/other']) await (await fetch(`${base}${path}`)).arrayBuffer();
    const access = lines.filter((line) => line.msg === 'request').map(({ level, path, status }) => ({ level, path, status }));
    expect(access).toEqual([
      { level: 20, path: '/poll', status: 200 },
      { level: 30, path: '/poll', status: 429 },
      { level: 30, path: '/other', status: 200 },
    ]);
  });
});

describe('a signed cookie', () => {
  /** An app that signs `c=<value>` at /set and answers what signedCookie reads at /get. */
  async function cookieApp(keys: string[]): Promise<string> {
    const app = new Koa();
    app.keys = keys;
    app.use((ctx) => {
      if (ctx.path === '/set') ctx.cookies.set('c', 'login-1', { signed: true });
      ctx.body = { value: signedCookie(ctx, 'c') ?? null };
    });
    return serve(app);
  }

  const read = async (base: string, cookie: string) => ((await (await fetch(`${base}/get`, { headers: { cookie } })).json()) as { value: string | null }).value;

  it('is read when its signature verifies, again and again, and never with a signature that does not', async () => {
    const base = await cookieApp(['key-one']);
    const set = (await fetch(`${base}/set`)).headers.getSetCookie().map((line) => line.split(';')[0]!);
    const signed = set.join('; ');
    const signature = set.find((pair) => pair.startsWith('c.sig='))!.slice('c.sig='.length);
    const forged = `c=login-1; c.sig=${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
    expect(await read(base, signed)).toBe('login-1');
    expect(await read(base, signed)).toBe('login-1');
    expect(await read(base, forged)).toBeNull();
    expect(await read(base, 'c=login-1')).toBeNull();
    expect(await read(base, signed.replace('c=login-1', 'c=login-2'))).toBeNull();
  });

  it('verified under one app\'s keys is not taken by an app with other keys', async () => {
    const first = await cookieApp(['key-one']);
    const other = await cookieApp(['key-two']);
    const signed = (await fetch(`${first}/set`)).headers.getSetCookie().map((line) => line.split(';')[0]!).join('; ');
    expect(await read(first, signed)).toBe('login-1');
    expect(await read(other, signed)).toBeNull();
  });
});
