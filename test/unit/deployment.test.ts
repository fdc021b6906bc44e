import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { checkBankIdSection } from '../../providers/se-bankid/config.js';
import { builtInEids } from '../../providers/index.js';
import { loadConfigFile } from '../../src/config/load.js';
import { projectRoot } from '../../src/paths.js';

const read = (name: string) => readFileSync(join(projectRoot, name), 'utf8');

/** The deployment files cannot be run here (no container engine): their promises are checked as text. */
describe('the deployment files', () => {
  const deployConfig = () =>
    loadConfigFile(join(projectRoot, 'deploy', 'broker.yaml'), {
      BROKER_ISSUER: 'https://id.example.com',
      BROKER_COOKIE_KEY: 'c'.repeat(44),
      BROKER_SUBJECT_SECRET: 's'.repeat(44),
      BANKID_PASSPHRASE: 'qwerty123',
    });

  it('deploy/broker.yaml is a valid configuration: Redis, /metrics on its own port', () => {
    const config = deployConfig();
    expect(config.redis?.url).toBe('redis://redis:6379');
    expect(config.host).toBe('0.0.0.0');
    expect(config.metrics).toMatchObject({ port: 9464, host: '0.0.0.0' });
  });

  it('deploy/broker.yaml enables an eID the broker has, in a section its plugin accepts, with the certificate compose mounts', () => {
    const { eids } = deployConfig();
    expect(Object.keys(eids)).toEqual(['se-bankid']);
    expect(Object.keys(builtInEids)).toContain('se-bankid');
    // The certificate itself is in the container only: its file is read when the broker starts there.
    expect(checkBankIdSection(eids['se-bankid'])).toMatchObject({
      data: { mode: 'test', client_certificate: { pfx: '/run/secrets/bankid-rp.p12', passphrase: 'qwerty123' } },
    });
    const compose = parseYaml(read('docker-compose.yml')) as { secrets: Record<string, { file: string }>; services: { broker: { secrets: string[] } } };
    expect(compose.services.broker.secrets).toEqual(['bankid-rp.p12']);
    expect(compose.secrets['bankid-rp.p12']!.file).toBe('./deploy/secrets/bankid-rp.p12');
    expect(read('.gitignore')).toMatch(/^deploy\/secrets\/$/m);
  });

  it('the image runs as a user without privileges, and checks readiness', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/health\/ready/m);
  });

  it("the image's node options are ones node takes from NODE_OPTIONS (else the container would not start)", () => {
    const options = /^ENV NODE_OPTIONS=(.+)$/m.exec(read('Dockerfile'))?.[1];
    expect(options).toMatch(/--max-semi-space-size=\d+/);
    const run = spawnSync(process.execPath, ['-e', 'process.exit(0)'], { env: { ...process.env, NODE_OPTIONS: options }, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('compose runs Redis with AOF, and the broker read-only, healthy when ready', () => {
    const compose = parseYaml(read('docker-compose.yml')) as {
      services: Record<string, { command?: string[]; read_only?: boolean; healthcheck?: { test: string[] }; volumes?: string[] }>;
    };
    expect(compose.services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(compose.services.broker!.read_only).toBe(true);
    expect(compose.services.broker!.healthcheck!.test.join(' ')).toContain('/health/ready');
    expect(compose.services.broker!.volumes).toContain('./deploy/broker.yaml:/config/broker.yaml:ro');
  });
});
