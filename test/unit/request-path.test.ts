import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';
import { signedCookie } from '../../src/http/signed-cookies.js';
import { projectRoot } from '../../src/paths.js';
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

  it('signed with an older key is read and signed again with the newest; a bad signature is cleared', async () => {
    const before = await cookieApp(['key-one']);
    const after = await cookieApp(['key-two', 'key-one']);
    const signed = (await fetch(`${before}/set`)).headers.getSetCookie().map((line) => line.split(';')[0]!).join('; ');
    const answer = await fetch(`${after}/get`, { headers: { cookie: signed } });
    expect(((await answer.json()) as { value: string }).value).toBe('login-1');
    const [resigned] = answer.headers.getSetCookie();
    expect(resigned).toMatch(/^c\.sig=[\w-]+; path=\//);
    expect(await read(after, `c=login-1; ${resigned!.split(';')[0]}`)).toBe('login-1');
    const refused = await fetch(`${after}/get`, { headers: { cookie: 'c=login-1; c.sig=forged' } });
    expect(refused.headers.getSetCookie()[0]).toMatch(/^c\.sig=; path=\/; expires=Thu, 01 Jan 1970/);
  });

  it('verified under one app\'s keys is not taken by an app with other keys', async () => {
    const first = await cookieApp(['key-one']);
    const other = await cookieApp(['key-two']);
    const signed = (await fetch(`${first}/set`)).headers.getSetCookie().map((line) => line.split(';')[0]!).join('; ');
    expect(await read(first, signed)).toBe('login-1');
    expect(await read(other, signed)).toBeNull();
  });

  // A login's begun mark is a cookie named by the login. The cookies package keeps a pattern for
  // every name it reads, for ever: the broker kept two for every login that ever came, about 5 kB
  // a login; without them what is left is a few tens of bytes, the machine's own noise.
  it('leaves nothing behind per name read: a cookie named by its login is gone with the login', () => {
    const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', loginAfterLoginProgram], { cwd: projectRoot, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(Number(run.stdout)).toBeLessThan(500);
  });
});

/** src/http/signed-cookies.ts as the JavaScript module the broker runs, for a plain node process to import. */
const folder = mkdtempSync(join(tmpdir(), 'neb-signed-cookies-'));
const cookiesModule = join(folder, 'signed-cookies.mjs');
buildSync({ entryPoints: [join(projectRoot, 'src/http/signed-cookies.ts')], outfile: cookiesModule, format: 'esm', platform: 'node', logLevel: 'error' });
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/**
 * A program that reads, through a Koa app with cookie keys, the signed cookie of one login after
 * another, each named by its login as the begun mark is (`neb_begun_<n>`), and prints the heap
 * it kept per login read: after enough logins to fill the remembered pairs to their bound, so
 * that only what grows without bound is left to count.
 */
const loginAfterLoginProgram = `
  import http from 'node:http';
  import net from 'node:net';
  import Koa from 'koa';
  const { signedCookie } = await import(${JSON.stringify(pathToFileURL(cookiesModule).href)});
  const app = new Koa();
  app.keys = ['a key of the test'];
  const contextWith = (cookie) => {
    const req = new http.IncomingMessage(new net.Socket());
    req.headers = cookie ? { cookie } : {};
    return app.createContext(req, new http.ServerResponse(req));
  };
  const signatureOf = (name) => {
    const ctx = contextWith();
    ctx.cookies.set(name, '1', { signed: true });
    return ctx.res.getHeader('set-cookie').find((line) => line.startsWith(name + '.sig=')).split(/[=;]/)[1];
  };
  const readLogins = (from, count) => {
    for (let n = from; n < from + count; n += 1) {
      const name = 'neb_begun_' + n;
      if (signedCookie(contextWith(name + '=1; ' + name + '.sig=' + signatureOf(name)), name) !== '1') throw new Error('not read: ' + name);
    }
  };
  const used = () => (globalThis.gc(), process.memoryUsage().heapUsed);
  readLogins(0, 60_000);
  const before = used();
  readLogins(60_000, 60_000);
  console.log((used() - before) / 60_000);
`;
