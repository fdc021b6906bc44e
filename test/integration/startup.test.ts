import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { builtInEids } from '../../providers/index.js';
import { compiledMain } from '../../scripts/build.js';
import { projectRoot } from '../../src/paths.js';
import { spawnBroker, writeConfig, type BrokerProcess } from '../support/process.js';
import { eventually } from '../support/ops.js';
import { findFreePort, redisUrl, uniquePrefix, deleteKeysWithPrefix, startRedisServer } from '../support/redis.js';

const running: BrokerProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((broker) => broker.stop()));
});

/** The lightest eID to start: a configuration needs one. */
const simulatedFtn = { 'fi-ftn': { mode: 'simulator' } };

async function refusedWith(config: string | undefined, name = 'broker.json') {
  const port = await findFreePort();
  const broker = spawnBroker({ BROKER_CONFIG: config === undefined ? '/nonexistent/broker.json' : writeConfig(name, config), PORT: String(port) });
  running.push(broker);
  const { code, stderr } = await broker.exited();
  return { code, stderr, port, stdout: broker.stdout().toString() };
}

describe('a configuration that cannot be used stops the start-up with exit code 2', () => {
  it.each([
    ['a missing file', undefined, 'BROKER_CONFIG: cannot read /nonexistent/broker.json'],
    ['a file that is not JSON', '{ "port": ', 'BROKER_CONFIG: '],
    ['an unknown key', JSON.stringify({ prot: 3000 }), 'prot: unknown key'],
    ["a key that moved to an eID's section", JSON.stringify({ ui: { qr_size: 280 }, eids: simulatedFtn }), 'ui.qr_size: moved to eids.se-bankid.qr_size'],
    ["a bad value in an eID's section", JSON.stringify({ eids: { 'se-bankid': { mode: 'simulator', qr_size: 1000 } } }), 'eids.se-bankid.qr_size: must be at most 480'],
    ['a wrong type', JSON.stringify({ port: 'x' }), 'port: '],
    ['no eID at all', JSON.stringify({}), `eids: no eID is configured; add a section for at least one (known: ${Object.keys(builtInEids).join(', ')})`],
    ['an eID nobody knows', JSON.stringify({ eids: { 'xx-magic': {} } }), 'eids.xx-magic: no such eID'],
    ['a missing JWKS file', JSON.stringify({ jwks: '/nonexistent/jwks.json' }), 'jwks: cannot read /nonexistent/jwks.json'],
    [
      'a webhook endpoint on plain http off this machine',
      JSON.stringify({ webhooks: { endpoints: [{ id: 'siem', url: 'http://siem.example/hook', secret: 's'.repeat(32) }] }, eids: simulatedFtn }),
      'webhooks.endpoints[0].url: must use https (http only on a loopback host, outside production)',
    ],
    [
      'a client with a fragment in a redirect URI',
      JSON.stringify({ clients: [{ client_id: 'a', client_secret: 'x'.repeat(32), redirect_uris: ['https://a.example/cb#fragment'] }], eids: simulatedFtn }),
      'clients[0].redirect_uris[0]: must not contain a fragment',
    ],
    [
      'a client with an empty display_name',
      JSON.stringify({ clients: [{ client_id: 'a', client_secret: 'x'.repeat(32), redirect_uris: ['https://a.example/cb'], display_name: '' }], eids: simulatedFtn }),
      'clients[0].display_name: must not be empty',
    ],
  ])('%s', async (_case, config, message) => {
    const { code, stderr } = await refusedWith(config);
    expect(code).toBe(2);
    expect(stderr).toContain(`configuration error: ${message}`);
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it.each([
    ['no eID at all', JSON.stringify({})],
    ['an eID nobody knows', JSON.stringify({ eids: { 'xx-magic': {} } })],
    ['a missing JWKS file', JSON.stringify({ jwks: '/nonexistent/jwks.json', eids: simulatedFtn })],
    ['a webhook endpoint on plain http', JSON.stringify({ webhooks: { endpoints: [{ id: 'siem', url: 'http://siem.example/hook', secret: 's'.repeat(32) }] }, eids: simulatedFtn })],
    ['a client with an empty display_name', JSON.stringify({ clients: [{ client_id: 'a', client_secret: 'x'.repeat(32), redirect_uris: ['https://a.example/cb'], display_name: '' }], eids: simulatedFtn })],
  ])('%s is the first thing printed: no warning about the configuration, no eID started', async (_case, config) => {
    const { code, stderr, stdout } = await refusedWith(config);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^(?:.*WARNING: Unsupported runtime.*\n)?configuration error: /);
    expect(stdout).toBe('');
  }, 60_000);

  it('problems in two eIDs\' sections and in a client are named together, each by its key, before any eID starts or anything listens', async () => {
    const { code, stderr, stdout, port } = await refusedWith(
      JSON.stringify({
        eids: {
          // Fine by themselves: started, they would print their simulators' lines before the problems.
          'fi-ftn': { mode: 'simulator' },
          'dk-mitid': { mode: 'simulator' },
          'se-bankid': { mode: 'simulator', qr_size: 1000, pol_frequency: 1 },
          'se-freja': { mode: 'test', client_certificate: { pfx: '/nonexistent/freja.p12' }, jws_certificates: ['/nonexistent/jws.pem'] },
        },
        // A field BankID declares is not refused for BankID's problems; the client's own one is named.
        clients: [{ client_id: 'a', client_secret: 'x'.repeat(32), redirect_uris: ['http://a.example/cb'], bankid_requirement: { pinCode: true } }],
      }),
    );
    expect(code).toBe(2);
    const problems = stderr.split('\n').filter((line) => line.startsWith('configuration error: '));
    expect(problems).toEqual([
      'configuration error: eids.se-bankid.pol_frequency: unknown key; did you mean poll_frequency?',
      'configuration error: eids.se-bankid.qr_size: must be at most 480',
      'configuration error: eids.se-freja.client_certificate.pfx: cannot read /nonexistent/freja.p12 (ENOENT)',
      'configuration error: eids.se-freja.jws_certificates[0]: cannot read /nonexistent/jws.pem (ENOENT)',
      'configuration error: clients[0].redirect_uris[0]: must use https (http only on a loopback address, such as http://127.0.0.1:8080/callback)',
    ]);
    // Nothing was said before them (no eID's start-up line, no warning), and nothing listened.
    expect(stderr).toMatch(/^(?:.*WARNING: Unsupported runtime.*\n)?configuration error: /);
    expect(stdout).toBe('');
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  }, 60_000);

  it('a client naming what the configured eIDs do not declare is named with the problems of the broker\'s own sections, before any eID starts', async () => {
    const { code, stderr, stdout } = await refusedWith(
      JSON.stringify({
        prot: 3000,
        eids: { 'fi-ftn': { mode: 'simulator' }, 'se-bankid': { mode: 'simulator' } },
        clients: [{ client_id: 'a', client_secret: 'x'.repeat(32), redirect_uris: ['https://a.example/cb'], bankid_requirment: { pinCode: true }, allowed_eids: ['dk-mitid'] }],
      }),
    );
    expect(code).toBe(2);
    expect(stderr).toContain('configuration error: prot: unknown key; did you mean port?\n');
    expect(stderr).toContain('configuration error: clients[0].bankid_requirment: unknown key; did you mean bankid_requirement?\n');
    expect(stdout).toBe('');
  }, 60_000);

  it('a YAML file is read as YAML', async () => {
    const { code, stderr } = await refusedWith('port: 3000\nclients:\n  - client_id: a\n', 'broker.yaml');
    expect(code).toBe(2);
    expect(stderr).toContain('configuration error: clients[0].redirect_uris: ');
  });
});

/** The broker run with `args`, without BROKER_CONFIG; a run that starts a server instead is ended by the timeout (status null). */
async function runWith(args: string[], env: Record<string, string> = {}) {
  const port = await findFreePort();
  return spawnSync(process.execPath, [compiledMain, ...args], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 15_000,
    env: { ...process.env, BROKER_CONFIG: undefined, PORT: String(port), ...env },
  });
}

describe('arguments, and PORT of the embedded default', () => {
  it.each(['', '0', 'abc', ' 80', '65536'])('PORT=%j is a configuration error (exit 2) naming PORT, and starts nothing', async (value) => {
    const run = await runWith([], { PORT: value });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`configuration error: PORT: must be a port number from 1 to 65535, not "${value}"`);
  }, 30_000);

  it('--help prints how to start it and exits 0, starting nothing', async () => {
    const run = await runWith(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('BROKER_CONFIG');
    expect(run.stdout).toContain('nordic-eid-broker clients');
  }, 30_000);

  it.each([[['--config', 'broker.yaml']], [['broker.yaml']], [['--port', '8080']]])('%j is a usage error (exit 2) naming BROKER_CONFIG, and starts nothing', async (args) => {
    const run = await runWith(args);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`the broker takes no argument "${args[0]}": set BROKER_CONFIG to the configuration file`);
    expect(run.stdout).not.toContain('Admin API');
  }, 30_000);
});

describe('starting', () => {
  it('the embedded default serves discovery and the demo relying party', async () => {
    const port = await findFreePort();
    const broker = spawnBroker({ BROKER_CONFIG: undefined, PORT: String(port) });
    running.push(broker);
    await broker.listening();
    const discovery = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    const metadata = (await discovery.json()) as { issuer: string; acr_values_supported: string[] };
    expect(metadata.issuer).toBe(`http://localhost:${port}`);
    expect(metadata.acr_values_supported).toEqual(
      expect.arrayContaining(['urn:nordic-eid:se:bankid:other-device', 'urn:nordic-eid:no:bankid', 'urn:nordic-eid:fi:ftn', 'urn:nordic-eid:dk:mitid:high', 'urn:nordic-eid:cz:bankid']),
    );
    expect(broker.output()).toContain('simulated BankID: open the app page');
    const demo = await fetch(`http://127.0.0.1:${port}/demo`);
    expect(demo.status).toBe(200);
    expect(await demo.text()).toContain('Demo service');
    expect(broker.output()).toContain('using the in-memory store');
  }, 60_000);

  it('the embedded default first says in plain text where things are, and the admin command it prints works as printed', async () => {
    const port = await findFreePort();
    // The token comes from this run, not from a shell that ran the CLI before.
    const broker = spawnBroker({ BROKER_CONFIG: undefined, PORT: String(port), BROKER_ADMIN_TOKEN: undefined });
    running.push(broker);
    await broker.listening();
    const stdout = broker.output().slice(0, broker.output().indexOf('{'));
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^Nordic eID Broker: starting the embedded default/);
    expect(stdout).toContain(`Demo service      http://localhost:${port}/demo`);
    expect(stdout).toMatch(/se-bankid +http:\/\/127\.0\.0\.1:\d+\/app\n +the simulated BankID app/);
    expect(stdout).toMatch(/se-freja +http:\/\/127\.0\.0\.1:\d+\/app\n +the simulated Freja eID app/);
    expect(stdout).toContain('The log follows, one JSON object per line.');

    // The two lines under "Admin API", run as a newcomer would paste them.
    const exportLine = lines.find((line) => line.trim().startsWith('export BROKER_ADMIN_URL='))!.trim();
    expect(exportLine).toMatch(new RegExp(`^export BROKER_ADMIN_URL=http://localhost:${port} BROKER_ADMIN_TOKEN=[A-Za-z0-9_-]{32,}$`));
    const addLine = lines.find((line) => line.trim().startsWith('npx nordic-eid-broker clients add'))!.trim();
    const cli = spawnSync('sh', ['-c', `${exportLine} && ${addLine} --json`], { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, BROKER_ADMIN_URL: '', BROKER_ADMIN_TOKEN: '' } });
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ client_id: 'my-app', redirect_uris: ['http://127.0.0.1:8080/callback'] });
  }, 60_000);

  it('a broker run from a configuration file prints no welcome and no admin token: its first line is JSON', async () => {
    const port = await findFreePort();
    const broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker.json', JSON.stringify({ port, eids: simulatedFtn })) });
    running.push(broker);
    await broker.listening();
    expect(broker.output().split('\n').find((line) => line.startsWith('{') || line.startsWith('Nordic'))).toMatch(/^\{/);
    expect(broker.output()).not.toContain('BROKER_ADMIN_TOKEN');
    expect((await fetch(`http://127.0.0.1:${port}/admin/clients`)).status).toBe(404);
  }, 60_000);

  it('a YAML configuration on Redis, with secrets from the environment', async () => {
    const port = await findFreePort();
    const prefix = uniquePrefix('startup');
    const config = writeConfig(
      'broker.yaml',
      [
        `issuer: http://127.0.0.1:${port}`,
        `port: ${port}`,
        'redis:',
        `  url: ${redisUrl}`,
        `  key_prefix: "${prefix}"`,
        'subject_secret: ${TEST_SUBJECT_SECRET}',
        'clients:',
        '  - client_id: app',
        '    client_secret: ${TEST_APP_SECRET}',
        '    redirect_uris: [https://app.example/cb]',
        'eids:',
        '  fi-ftn: { mode: simulator }',
      ].join('\n'),
    );
    const broker = spawnBroker({ BROKER_CONFIG: config, TEST_SUBJECT_SECRET: 's'.repeat(40), TEST_APP_SECRET: 'a'.repeat(40) });
    running.push(broker);
    try {
      await broker.listening();
      const discovery = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`);
      expect(discovery.status).toBe(200);
      expect(broker.output()).not.toContain('in-memory');
      expect(broker.output()).not.toContain('s'.repeat(40));
      expect(broker.output()).not.toContain('a'.repeat(40));
    } finally {
      await broker.stop();
      await deleteKeysWithPrefix(prefix);
    }
  }, 60_000);

  it('while Redis is down, for longer than a restart of it takes: it waits, saying so and why, and serves once Redis is there', async () => {
    const redis = await startRedisServer();
    await redis.stop();
    const port = await findFreePort();
    const config = { issuer: `http://127.0.0.1:${port}`, port, redis: { url: redis.url, key_prefix: 'down-at-start:' }, clients: [], eids: simulatedFtn };
    const broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker.json', JSON.stringify(config)) });
    running.push(broker);
    try {
      // Past the 15 s it gave up after, with a stack trace for a reason.
      const notice = await eventually(() => {
        if (broker.child.exitCode !== null) throw new Error(`the broker exited with ${broker.child.exitCode}: ${broker.output()}`);
        return broker.output().split('\n').find((line) => line.includes('"waitedSeconds":20'));
      }, 300);
      expect(JSON.parse(notice)).toMatchObject({ level: 40, msg: 'still waiting for the store to answer: nothing is served until it does' });
      expect(broker.output()).toMatch(/"reason":"connect ECONNREFUSED [^"]+","msg":"Redis is unreachable/);

      await redis.start();
      await broker.listening();
      expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).status).toBe(200);
    } finally {
      await broker.stop();
      await redis.stop();
    }
  }, 60_000);
});
