import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compiledMain } from '../../scripts/build.js';
import { projectRoot } from '../../src/paths.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { findFreePort } from '../support/redis.js';
import { logIn, RelyingParty } from '../support/relying-party.js';
import { ADMIN_TOKEN, loginWorks, startAdminBroker } from './admin-support.js';

/** `nordic-eid-broker clients …`, run as its own process the way an operator runs it. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [compiledMain, 'clients', ...args],
      { cwd: projectRoot, env: { ...process.env, BROKER_ADMIN_URL: undefined, BROKER_ADMIN_TOKEN: undefined, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let tb: TestBroker;
let env: Record<string, string>;

beforeAll(async () => {
  tb = await startAdminBroker({}, 'cli');
  env = { BROKER_ADMIN_URL: tb.issuer, BROKER_ADMIN_TOKEN: ADMIN_TOKEN };
});

describe('an operator registers clients from the CLI', () => {
  it('a web client and a mobile app, each logging in at once without a restart', async () => {
    const web = await cli(['add', '--redirect-uri', 'https://shop.example/callback', '--name', 'The Shop', '--json'], env);
    expect(web.stderr).toBe('');
    expect(web.code).toBe(0);
    const webClient = JSON.parse(web.stdout) as { client_id: string; client_secret: string; display_name: string };
    expect(webClient).toMatchObject({ display_name: 'The Shop', token_endpoint_auth_method: 'client_secret_basic', source: 'dynamic' });
    await loginWorks(tb.issuer, { ...webClient, redirect_uris: ['https://shop.example/callback'] });

    const app = await cli(['add', '--type', 'native', '--redirect-uri', 'com.example.shop:/oauth2redirect', '--name', 'The Shop app'], env);
    expect(app.code).toBe(0);
    const appId = /^Added client (\S+)\.$/m.exec(app.stdout)?.[1];
    expect(appId).toBeDefined();
    expect(app.stdout).toMatch(/token_endpoint_auth_method\s+none/);
    expect(app.stdout).not.toContain('client_secret');
    const rp = await RelyingParty.discover(tb.issuer, { client_id: appId!, redirect_uris: ['com.example.shop:/oauth2redirect'] });
    const callback = await logIn(rp, { scope: 'openid offline_access', prompt: 'consent' });
    expect(callback.protocol).toBe('com.example.shop:');
    expect((await rp.redeem(callback)).refresh_token).toEqual(expect.any(String));
  });

  // Several CLI processes one after another: on a busy machine each takes seconds to start.
  it('round trip: add, list, show, update, rotate-secret, remove', async () => {
    const metadataFile = join(mkdtempSync(join(tmpdir(), 'neb-cli-')), 'metadata.json');
    writeFileSync(metadataFile, JSON.stringify({ allowed_eids: ['test-double'], client_name: 'From a file' }));
    const added = await cli(['add', '--id', 'cli-round-trip', '--redirect-uri', 'https://rt.example/cb', '--metadata', `@${metadataFile}`], env);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('Added client cli-round-trip.');
    const secret = /^client_secret: (\S+)$/m.exec(added.stdout)?.[1];
    expect(secret).toEqual(expect.any(String));
    expect(added.stdout).toContain('never shows it again');
    expect(added.stdout).toMatch(/allowed_eids\s+test-double/);

    const list = await cli(['list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^CLIENT_ID\s+TYPE\s+AUTH\s+SOURCE\s+NAME$/m);
    expect(list.stdout).toMatch(/^cli-round-trip\s+web\s+client_secret_basic\s+dynamic\s+From a file$/m);
    expect(list.stdout).toMatch(/^web-app\s+web\s+client_secret_basic\s+static/m);
    expect(list.stdout).not.toContain(secret);
    const listed = JSON.parse((await cli(['list', '--json'], env)).stdout) as { clients: Array<{ client_id: string }> };
    expect(listed.clients.map((c) => c.client_id)).toContain('cli-round-trip');
    const limited = JSON.parse((await cli(['list', '--json', '--limit', '1'], env)).stdout) as { clients: unknown[] };
    expect(limited.clients).toHaveLength(1);

    const updated = await cli(['update', 'cli-round-trip', '--name', 'Renamed', '--no-refresh-tokens', '--no-return-to-picker', '--redirect-uri', 'https://rt.example/v2', '--json'], env);
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ display_name: 'Renamed', grant_types: ['authorization_code'], redirect_uris: ['https://rt.example/v2'], return_to_picker: false });
    const shown = await cli(['show', 'cli-round-trip'], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^display_name\s+Renamed$/m);
    expect(shown.stdout).not.toContain(secret);

    const rotated = await cli(['rotate-secret', 'cli-round-trip', '--json'], env);
    expect(rotated.code).toBe(0);
    const newSecret = (JSON.parse(rotated.stdout) as { client_secret: string }).client_secret;
    expect(newSecret).not.toBe(secret);
    await loginWorks(tb.issuer, { client_id: 'cli-round-trip', client_secret: newSecret, redirect_uris: ['https://rt.example/v2'] });

    const removed = await cli(['remove', 'cli-round-trip'], env);
    expect(removed).toMatchObject({ code: 0, stdout: 'Removed client cli-round-trip.\n' });
    const gone = await cli(['show', 'cli-round-trip'], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe('error: There is no client cli-round-trip. (not_found, HTTP 404)\n');
  }, 60_000);

  it("prints a client's own metadata with its control characters escaped: one registered by anyone cannot drive the operator's terminal", async () => {
    const open = await startAdminBroker({ registration: { enabled: true, initial_access_token: false }, rate_limits: {} }, 'cli-registered');
    // Sets the terminal's title, clears the screen, and writes a line of its own into the table.
    const clientUri = 'https://x.example/\u001b]0;owned\u0007\u001b[2J\rweb-app  web  client_secret_basic  static';
    const registered = await fetch(`${open.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://x.example/cb'], client_name: 'Registered', client_uri: clientUri }),
    });
    expect(registered.status).toBe(201);
    const { client_id: id } = (await registered.json()) as { client_id: string };
    const shown = await cli(['show', id], { BROKER_ADMIN_URL: open.issuer, BROKER_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^client_uri\s+https:\/\/x\.example\/\\u001b\]0;owned\\u0007\\u001b\[2J\\u000dweb-app {2}web/m);
    expect(shown.stdout.replaceAll('\n', '')).not.toMatch(/\p{Cc}/u);
  });

  it('takes the URL and token from flags as well as from the environment', async () => {
    const list = await cli(['list', '--url', tb.issuer, '--token', ADMIN_TOKEN]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('web-app');
  });
});

describe('errors and exit codes', () => {
  it('1: metadata the broker refuses, with the field named', async () => {
    const refused = await cli(['add', '--redirect-uri', 'http://shop.example/callback'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('error: redirect_uris[0]: must use https (http only on a loopback address, such as http://127.0.0.1:8080/callback) (invalid_redirect_uri, HTTP 400)\n');
    expect(refused.stdout).toBe('');
  });

  it.each([
    [['--metadata', '{"redirect_uri": ["https://shop.example/other"]}'], 'redirect_uri: unknown field; did you mean redirect_uris?'],
    [['--type', 'desktop'], 'application_type: must be one of "web", "native"'],
    [['--metadata', '{"contacts": "ops@shop.example"}'], 'contacts: must be a list, not a string'],
    [['--name', ''], 'display_name: must not be empty'],
  ])('1: %j is refused in plain words, naming the field', async (options, description) => {
    const refused = await cli(['add', '--redirect-uri', 'https://shop.example/callback', ...options], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`error: ${description} (invalid_client_metadata, HTTP 400)\n`);
  });

  it('1: a static client cannot be changed', async () => {
    const refused = await cli(['remove', 'web-app'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('read_only_client');
  });

  it('1: a wrong token', async () => {
    const refused = await cli(['list'], { ...env, BROKER_ADMIN_TOKEN: 'not-the-token' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('(invalid_token, HTTP 401)');
  });

  it('1: a broker whose admin API is off', async () => {
    const off = await startTestBroker({}, 'cli-off');
    const refused = await cli(['list'], { ...env, BROKER_ADMIN_URL: off.issuer });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('HTTP 404');
  });

  it('2: a usage error (every usage error is in test/unit/cli-usage.test.ts)', async () => {
    const result = await cli(['frobnicate'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command frobnicate');
  });

  it('2: no URL or no token', async () => {
    const noUrl = await cli(['list'], { BROKER_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(noUrl).toMatchObject({ code: 2, stderr: expect.stringContaining('BROKER_ADMIN_URL') });
    const noToken = await cli(['list'], { BROKER_ADMIN_URL: tb.issuer });
    expect(noToken).toMatchObject({ code: 2, stderr: expect.stringContaining('BROKER_ADMIN_TOKEN') });
  });

  it('3: nothing answers at the URL', async () => {
    const port = await findFreePort();
    const result = await cli(['list'], { ...env, BROKER_ADMIN_URL: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(`error: cannot reach the broker at http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });

  it('3: a server at the URL that is not the broker (a login page, a proxy\'s error page, broken JSON): never "done", never a stack trace', async () => {
    const answers: Array<[number, string, string]> = [
      [200, 'text/html', '<html>Sign in</html>'],
      [502, 'text/html', '<html>Bad gateway</html>'],
      [200, 'application/json', '{"clients":'],
      [200, 'application/json', '{"clients":null}'],
    ];
    for (const [status, type, body] of answers) {
      const server = createServer((_request, response) => response.writeHead(status, { 'content-type': type }).end(body));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        for (const args of [['list'], ['remove', 'shop'], ['show', 'shop']]) {
          const result = await cli(args, { ...env, BROKER_ADMIN_URL: url, CI: 'true' });
          const what = `${args[0]} with ${status} ${body}`;
          expect(result.code, what).toBe(3);
          expect(result.stdout, what).toBe('');
          expect(result.stderr, what).toMatch(new RegExp(`^error: the server at ${url} .*: check that --url or BROKER_ADMIN_URL is the broker's issuer URL\n$`));
        }
      } finally {
        server.close();
      }
    }
  });

  it('2: plain http to another machine is refused, the token unsent, unless --allow-plain-http says the way is trusted', async () => {
    // An address of this machine that is not loopback: the CLI cannot tell it from another machine's.
    const address = Object.values(networkInterfaces()).flat().find((candidate) => candidate && !candidate.internal && candidate.family === 'IPv4')!.address;
    const received: string[] = [];
    const server = createServer((request, response) => {
      received.push(request.headers.authorization ?? '');
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"clients":[]}');
    });
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const url = `http://${address}:${(server.address() as AddressInfo).port}`;
    try {
      const refused = await cli(['list'], { ...env, BROKER_ADMIN_URL: url });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`^error: --url: ${url} is plain http to another machine, .*Use https, or, only if the network between is yours .*, pass --allow-plain-http\n`));
      expect(received).toEqual([]);

      const allowed = await cli(['list', '--allow-plain-http'], { ...env, BROKER_ADMIN_URL: url });
      expect(allowed.code).toBe(0);
      expect(allowed.stderr).toBe(`warning: the admin token goes over plain http to ${url.slice('http://'.length)} (--allow-plain-http)\n`);
      expect(received).toEqual([`Bearer ${ADMIN_TOKEN}`]);
    } finally {
      server.close();
    }
  });

  it('0: --help', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes: 0 done, 1 refused by the broker, 2 usage error, 3 broker unreachable.');
  });
});
