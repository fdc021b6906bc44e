import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRODUCTION_NODE_MAJORS, productionNode, productionNodePrefix, type ProductionNodeMajor } from '../support/production-nodes.js';
import { answersPing, redisUrl } from '../support/redis.js';

/**
 * What the tests need from the machine, made present before any test runs: a Redis answering
 * at 127.0.0.1:6379 (or REDIS_URL), the Debian packages of the browser and of the independent
 * relying parties, and Nodes 22 and 24 from the npm registry (the broker runs on Node 20, 22 and 24).
 * Root (CI, or a developer's root shell) installs the packages that are missing; anyone else is
 * told in one line what to install, and the run stops.
 */

interface DebianPrerequisite {
  /** Why the tests need it, for the line we print. */
  purpose: string;
  packages: string[];
  /** Present when this holds; by default, when every package is installed. */
  present?: () => boolean;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const debianPrerequisites: DebianPrerequisite[] = [
  { purpose: 'redis-server (the outage tests start their own)', packages: ['redis-server'], present: () => onPath('redis-server') },
  { purpose: 'chromium (browser tests)', packages: ['chromium'], present: () => existsSync(CHROMIUM) },
  { purpose: 'ss (the listen backlog test)', packages: ['iproute2'], present: () => onPath('ss') },
  { purpose: 'apache2 with mod_auth_openidc (interop tests)', packages: ['apache2', 'libapache2-mod-auth-openidc'] },
  { purpose: "python3 with authlib and requests (interop tests)", packages: ['python3', 'python3-authlib', 'python3-requests'] },
];

const REDIS = new URL(redisUrl);
const DPKG_LOCK_ATTEMPTS = 30;
const DPKG_LOCK_WAIT_MS = 5_000;

function say(line: string): void {
  process.stdout.write(`setup: ${line}\n`);
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function installed(pkg: string): boolean {
  const query = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return query.status === 0 && query.stdout.includes('install ok installed');
}

function isPresent(prerequisite: DebianPrerequisite): boolean {
  return prerequisite.present ? prerequisite.present() : prerequisite.packages.every(installed);
}

class Apt {
  #updated = false;
  readonly #log = join(mkdtempSync(join(tmpdir(), 'neb-setup-')), 'apt.log');

  async install(packages: string[]): Promise<void> {
    if (!this.#updated) {
      await this.#run(['update']);
      this.#updated = true;
    }
    await this.#run(['install', '-y', '--no-install-recommends', ...packages]);
  }

  /** apt-get, retried while another apt or dpkg holds the lock. Its output goes to a log, shown when it fails. */
  async #run(args: string[]): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const result = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=60', ...args], {
        encoding: 'utf8',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
      writeFileSync(this.#log, output, { flag: 'a' });
      if (result.status === 0) return;
      if (/Could not get lock|dpkg was interrupted|Unable to acquire/.test(output) && attempt < DPKG_LOCK_ATTEMPTS) {
        say(`apt-get ${args[0]}: the package lock is held; trying again`);
        await new Promise((resolve) => setTimeout(resolve, DPKG_LOCK_WAIT_MS));
        continue;
      }
      throw new Error(`apt-get ${args.join(' ')} failed (exit ${result.status}); its output is in ${this.#log}:\n${output.slice(-2_000)}`);
    }
  }
}

async function ensureRedis(): Promise<void> {
  const host = REDIS.hostname;
  const port = Number(REDIS.port || 6379);
  if (await answersPing(port, { host })) return say(`redis answers at ${host}:${port}`);
  if (process.env.REDIS_URL) throw new Error(`nothing answers at REDIS_URL (${REDIS.href}); start that Redis, or unset REDIS_URL`);
  say(`no redis at ${host}:${port}: starting redis-server`);
  // Detached and daemonized: it serves this run and later ones, as a developer's own Redis would.
  spawn('redis-server', ['--daemonize', 'yes', '--bind', host, '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', tmpdir()], {
    stdio: 'ignore',
    detached: true,
  }).unref();
  for (let i = 0; i < 50; i += 1) {
    if (await answersPing(port, { host })) return say(`redis answers at ${host}:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`redis-server did not answer at ${host}:${port}`);
}

async function ensureDebianPackages(): Promise<void> {
  const missing = debianPrerequisites.filter((prerequisite) => !isPresent(prerequisite));
  for (const prerequisite of debianPrerequisites) {
    if (!missing.includes(prerequisite)) say(`${prerequisite.purpose}: present`);
  }
  if (missing.length === 0) return;
  const packages = missing.flatMap((prerequisite) => prerequisite.packages);
  if (process.getuid?.() !== 0) {
    throw new Error(`the tests need Debian packages that are missing, and only root may install them: sudo apt-get install ${packages.join(' ')}`);
  }
  const apt = new Apt();
  for (const prerequisite of missing) {
    say(`${prerequisite.purpose}: installing ${prerequisite.packages.join(' ')}`);
    await apt.install(prerequisite.packages);
    if (!isPresent(prerequisite)) throw new Error(`${prerequisite.purpose}: still missing after installing ${prerequisite.packages.join(' ')}`);
  }
}

/** A production Node in the project's cache, from the npm registry: the tests that run the broker on it need it. */
function ensureProductionNode(major: ProductionNodeMajor): void {
  const purpose = `node ${major} (the broker on Node ${major})`;
  if (existsSync(productionNode(major))) return say(`${purpose}: present`);
  const pkg = `node-linux-${process.arch}@${major}`;
  say(`${purpose}: installing ${pkg} from the npm registry`);
  const npm = spawnSync('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', productionNodePrefix(major), pkg], { encoding: 'utf8' });
  if (npm.status !== 0 || !existsSync(productionNode(major))) throw new Error(`${purpose}: npm install ${pkg} failed (exit ${npm.status}):\n${`${npm.stdout}${npm.stderr}`.slice(-2_000)}`);
}

/** Vitest's global setup: runs once, before any test file. */
export default async function setup(): Promise<void> {
  await ensureDebianPackages();
  for (const major of PRODUCTION_NODE_MAJORS) ensureProductionNode(major);
  await ensureRedis();
}
