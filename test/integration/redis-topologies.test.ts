import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { capturingLog, eventually } from '../support/ops.js';
import { tokenRequest } from '../support/http.js';
import { findFreePort, startRedisPassage, startRedisServer, type RedisPassage, type RedisServer } from '../support/redis.js';
import { codeRedemption, logIn, RelyingParty } from '../support/relying-party.js';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import type { TestPki } from '../../providers/shared/test-pki.js';
import { startBankIdSimulator, type BankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { BankIdSession, bankIdSection } from '../../providers/se-bankid/test/support.js';

/** Redis as operators run it besides a single server: Sentinel, and Cluster — each started here. */

const run = promisify(execFile);
const OTHER = 'urn:nordic-eid:se:bankid:other-device';

async function readiness(issuer: string): Promise<number> {
  const response = await fetch(`${issuer}/health/ready`);
  await response.body?.cancel();
  return response.status;
}

/** The new master's port, as the Sentinel names it. */
async function masterPort(watcher: Redis): Promise<number> {
  return Number(((await watcher.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'neb')) as string[])[1]);
}

/**
 * A master, its replica (in sync) and one Sentinel watching them as `neb`, with `settings` of
 * the Sentinel's for `neb` besides.
 */
async function startSentinelGroup(settings: string[] = []): Promise<{ master: RedisServer; replica: RedisServer; sentinel: RedisServer }> {
  // A replica writes what it receives from its master to dump.rdb in its folder, which every
  // other test's Redis started in the shared temporary folder would load: each gets a folder of its own.
  const ownFolder = () => ['--dir', mkdtempSync(join(tmpdir(), 'neb-failover-'))];
  const master = await startRedisServer({ args: ownFolder() });
  const replica = await startRedisServer({ args: [...ownFolder(), '--replicaof', '127.0.0.1', String(master.port)] });
  const configFile = join(mkdtempSync(join(tmpdir(), 'neb-sentinel-')), 'sentinel.conf');
  writeFileSync(configFile, [`sentinel monitor neb 127.0.0.1 ${master.port} 1`, ...settings.map((setting) => `sentinel ${setting}`), ''].join('\n'));
  const sentinel = await startRedisServer({ configFile, args: ['--sentinel'] });
  const watcher = new Redis(sentinel.port);
  const linked = new Redis(replica.port);
  try {
    await eventually(async () => ((await watcher.call('SENTINEL', 'REPLICAS', 'neb')) as unknown[]).length === 1);
    // The first sync waits for the master's diskless delay (5 s): before it, a failover loses everything.
    await eventually(async () => (await linked.info('replication')).includes('master_link_status:up'), 200);
  } finally {
    watcher.disconnect();
    linked.disconnect();
  }
  return { master, replica, sentinel };
}

describe('Sentinel, where both the Sentinel and the Redis servers need a password', () => {
  const masterPassword = 'the-master-password-for-this-test';
  const sentinelPassword = 'the-sentinel-password-for-this-test';
  let master: RedisServer;
  let sentinel: RedisServer;
  let tb: TestBroker;

  beforeAll(async () => {
    master = await startRedisServer({ args: ['--requirepass', masterPassword, '--masterauth', masterPassword], password: masterPassword });
    // A Sentinel rewrites its configuration file: it gets one of its own, in a folder of its own.
    const configFile = join(mkdtempSync(join(tmpdir(), 'neb-sentinel-')), 'sentinel.conf');
    writeFileSync(
      configFile,
      [`sentinel monitor neb 127.0.0.1 ${master.port} 1`, `sentinel auth-pass neb ${masterPassword}`, `requirepass ${sentinelPassword}`, ''].join('\n'),
    );
    sentinel = await startRedisServer({ configFile, args: ['--sentinel'], password: sentinelPassword });
    tb = await startTestBroker(
      {
        redis: {
          sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
          sentinel_name: 'neb',
          password: masterPassword,
          sentinel_password: sentinelPassword,
          key_prefix: 'sentinel:',
        },
      },
      'sentinel',
    );
  });
  afterAll(async () => {
    await tb?.close();
    await sentinel?.stop();
    await master?.stop();
  });

  it('starts, is ready and logs in', async () => {
    expect(await readiness(tb.issuer)).toBe(200);
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const tokens = await rp.redeem(await logIn(rp));
    expect(tokens.claims()).toMatchObject({ name: 'Tessa Testsson' });
    const direct = new Redis({ port: master.port, password: masterPassword });
    expect((await direct.keys('sentinel:*')).length).toBeGreaterThan(0);
    direct.disconnect();
  });
});

describe('a Sentinel failover', () => {
  let master: RedisServer;
  let replica: RedisServer;
  let sentinel: RedisServer;
  let tb: TestBroker;
  const captured = capturingLog();

  beforeAll(async () => {
    ({ master, replica, sentinel } = await startSentinelGroup());
    tb = await startTestBroker({ redis: { sentinels: [{ host: '127.0.0.1', port: sentinel.port }], sentinel_name: 'neb', key_prefix: 'failover:' } }, 'failover', { log: captured.log });
  });
  afterAll(async () => {
    await tb?.close();
    for (const server of [sentinel, replica, master]) await server?.stop();
  });

  it('the broker writes to the new master at once: a login completed just after it keeps its refresh token once the old master is a replica', async () => {
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const watcher = new Redis(sentinel.port);
    const oldMaster = new Redis(master.port);
    try {
      await watcher.call('SENTINEL', 'FAILOVER', 'neb');
      await eventually(async () => (await masterPort(watcher)) === replica.port);
      // The broker leaves the old master for the new one (its requests meanwhile get 503).
      await eventually(() => captured.text().includes('Redis is reachable again'));
      const callback = await logIn(rp, { acr_values: 'urn:test:test-double', scope: 'openid offline_access', prompt: 'consent' });
      const tokens = await rp.redeem(callback);
      // Sentinel turns the old master into a replica of the new one: what was written to it since is dropped.
      await eventually(async () => /role:slave[\s\S]*master_link_status:up/.test(await oldMaster.info('replication')), 300);
      const refreshed = await tokenRequest(tb.issuer, webClient, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      expect(refreshed.status).toBe(200);
    } finally {
      watcher.disconnect();
      oldMaster.disconnect();
    }
  }, 60_000);
});

describe('the master dies, and Sentinel names the new one while the broker asks it where the master is', () => {
  let master: RedisServer;
  let replica: RedisServer;
  let sentinel: RedisServer;
  let passage: RedisPassage;
  let tb: TestBroker;

  beforeAll(async () => {
    ({ master, replica, sentinel } = await startSentinelGroup(['down-after-milliseconds neb 1000']));
    // The broker reaches the Sentinel through a passage that can hold the Sentinel's answers.
    passage = await startRedisPassage(sentinel);
    const { port } = new URL(passage.url);
    tb = await startTestBroker({ redis: { sentinels: [{ host: '127.0.0.1', port: Number(port) }], sentinel_name: 'neb', key_prefix: 'switch:' } }, 'switch');
  });
  afterAll(async () => {
    await tb?.close();
    await passage?.close();
    for (const server of [sentinel, replica, master]) await server?.stop();
  });

  it('the broker connects to the new master and logs in, rather than stay disconnected until restarted', async () => {
    const watcher = new Redis(sentinel.port);
    // Told of the switch as the broker is: on a connection of its own through the passage.
    const told = new Redis(passage.url);
    try {
      const switched = new Promise((resolve) => told.once('message', resolve));
      await told.subscribe('+switch-master');
      // Where the master is, the Sentinel answers the broker (its main and its subscriber
      // connection) only once this test lets it: the broker is still asking when told of the switch.
      const HELD = 10;
      const released = passage.holdAnswersUntil(/get-master-addr-by-name/i, HELD);
      await master.stop();
      await switched;
      expect(await masterPort(watcher)).toBe(replica.port);
      const release = new Redis(passage.url);
      const asks = release.pipeline();
      for (let i = 0; i < HELD; i += 1) asks.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'neb');
      void asks.exec().finally(() => release.disconnect());
      await released;

      await eventually(() => tb.broker.store.available);
      const rp = await RelyingParty.discover(tb.issuer, webClient);
      expect((await rp.redeem(await logIn(rp))).claims()).toMatchObject({ name: 'Tessa Testsson' });
    } finally {
      watcher.disconnect();
      told.disconnect();
    }
  }, 60_000);
});

/** What `ask` reads from one node of a Cluster, on a connection of its own to that node alone. */
async function onNode<T>(node: RedisServer, ask: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(node.port);
  try {
    return await ask(redis);
  } finally {
    redis.disconnect();
  }
}

/** The master that serves `slot`, as `node` sees the Cluster. */
async function masterOf(node: RedisServer, nodes: RedisServer[], slot: number): Promise<RedisServer> {
  const ranges = await onNode(node, (redis) => redis.cluster('SLOTS'));
  const [, , served] = ranges.find(([first, last]) => first <= slot && slot <= last)!;
  const port = served![1];
  return nodes.find((candidate) => candidate.port === port)!;
}

/**
 * A key `first` and another (`next(i)` for the first i that fits) in a different slot on the
 * same master, their names as the broker writes them under `prefix`.
 */
async function placeOnOneMaster(nodes: RedisServer[], prefix: string, first: string, next: (i: number) => string): Promise<{ slot: number; master: RedisServer; other: string }> {
  const slotOf = (key: string) => onNode(nodes[0]!, async (redis) => Number(await redis.cluster('KEYSLOT', `${prefix}${key}`)));
  const slot = await slotOf(first);
  const master = await masterOf(nodes[0]!, nodes, slot);
  for (let i = 0; ; i += 1) {
    const otherSlot = await slotOf(next(i));
    if (otherSlot !== slot && (await masterOf(nodes[0]!, nodes, otherSlot)) === master) return { slot, master, other: next(i) };
  }
}

async function mastersAmong(nodes: RedisServer[]): Promise<RedisServer[]> {
  const roles = await Promise.all(nodes.map((node) => onNode(node, async (redis) => (await redis.role())[0])));
  return nodes.filter((_, i) => roles[i] === 'master');
}

/** Moves one slot and its keys from one master to another among `masters`, as a resharding does slot by slot. */
async function moveSlot(masters: RedisServer[], slot: number, from: RedisServer, to: RedisServer): Promise<void> {
  const [fromId, toId] = await Promise.all([from, to].map((node) => onNode(node, async (redis) => String(await redis.cluster('MYID')))));
  await onNode(to, (redis) => redis.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId!));
  await onNode(from, async (redis) => {
    await redis.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId!);
    const keys = (await redis.call('CLUSTER', 'GETKEYSINSLOT', slot, 1000)) as string[];
    if (keys.length) await redis.call('MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
  });
  // The new owner first, as redis-cli does, so that no node points a client at a master that would send it back.
  for (const node of [to, from, ...masters.filter((other) => other !== from && other !== to)]) {
    await onNode(node, (redis) => redis.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId!));
  }
}

/**
 * A Redis Cluster of three masters, no replicas, every node's state ok. Its servers work in a
 * folder of the cluster's own: one in the shared temporary folder may load a dump.rdb another
 * test's server left there, and a node that holds keys cannot join a cluster.
 */
async function startCluster(): Promise<RedisServer[]> {
  const folder = mkdtempSync(join(tmpdir(), 'neb-cluster-'));
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3; i += 1) {
    // The cluster bus would otherwise listen on the port + 10,000: inside the kernel's range of
    // ports for outgoing connections, where any connection on the machine may hold it already.
    const busPort = await findFreePort();
    nodes.push(
      await startRedisServer({
        args: ['--dir', folder, '--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', join(folder, `nodes-${i}.conf`), '--cluster-node-timeout', '1000'],
      }),
    );
  }
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  await eventually(async () => {
    const states = await Promise.all(nodes.map((node) => onNode(node, (redis) => redis.cluster('INFO'))));
    return states.every((info) => info.includes('cluster_state:ok'));
  });
  return nodes;
}

/** A Cluster, and a broker on it under the key prefix `<name>:`: started before the describe's tests, ended after them. */
function clusterBroker(name: string, settings: () => Parameters<typeof startTestBroker>[0] = () => ({})): { nodes: RedisServer[]; tb: TestBroker } {
  const bed = {} as { nodes: RedisServer[]; tb: TestBroker };
  beforeAll(async () => {
    bed.nodes = await startCluster();
    bed.tb = await startTestBroker({ ...settings(), redis: { cluster: bed.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })), key_prefix: `${name}:` } }, name);
  });
  afterAll(async () => {
    await bed.tb?.close();
    await Promise.all((bed.nodes ?? []).map((node) => node.stop()));
  });
  return bed;
}

describe('Cluster of three masters', () => {
  const bed = clusterBroker('cluster');

  it('logs in while every master is up, and is not ready while one is down', async () => {
    const rp = await RelyingParty.discover(bed.tb.issuer, webClient);
    expect((await rp.redeem(await logIn(rp))).claims()).toMatchObject({ name: 'Tessa Testsson' });
    expect(await readiness(bed.tb.issuer)).toBe(200);
    // The login's audit events reach the stream, appended in one script per batch on the stream's node.
    const cluster = new Cluster(bed.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
    try {
      const events = await eventually(async () => {
        const names = (await cluster.xrange('cluster:audit:events', '-', '+')).map(([, fields]) => (JSON.parse(fields[fields.indexOf('event') + 1]!) as { event: string }).event);
        return names.includes('tokens.issued') && names;
      });
      expect(events).toEqual(expect.arrayContaining(['authentication.started', 'authentication.completed', 'tokens.issued']));
    } finally {
      cluster.disconnect();
    }

    await bed.nodes[1]!.stop();
    await eventually(async () => (await readiness(bed.tb.issuer)) === 503);
    // Not now and then (one node picked at random), but every time.
    for (let i = 0; i < 5; i += 1) expect(await readiness(bed.tb.issuer)).toBe(503);
  });
});

describe('Cluster with one master frozen past its node timeout while a BankID login waits', () => {
  let pki: TestPki;
  let simulator: BankIdSimulator;
  // Before the Cluster's broker, which is configured with the simulator.
  beforeAll(async () => {
    pki = await createTestPki();
    simulator = await startBankIdSimulator({ pki });
  });
  afterAll(() => simulator?.close());
  const bed = clusterBroker('frozen', () => ({ eids: { 'se-bankid': bankIdSection(simulator, pki) } }));

  it('polls meanwhile are answered as still waiting (from the instance\'s copy) or 503 with Retry-After, a new login gets a page in words, never 500; once the master is back the waiting login completes', async () => {
    const session = await BankIdSession.begin({ ...bed, simulator, rp: await RelyingParty.discover(bed.tb.issuer, webClient) }, { acr_values: OTHER });
    expect((await session.start()).status).toBe('IN_PROGRESS');
    simulator.scanQr((await session.poll()).qrCode!.payload);
    const another = await RelyingParty.discover(bed.tb.issuer, webClient);
    const frozen = bed.nodes[1]!;
    frozen.pause();
    try {
      // Past the node timeout (1 s) the other masters count the Cluster down and refuse every command as well.
      await eventually(async () => (await readiness(bed.tb.issuer)) === 503);
      // The person approves on the phone while the broker cannot write it down.
      simulator.approve(session.orderRef());
      const answers: Array<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> = [];
      for (let i = 0; i < 6; i += 1) {
        const { status, headers, body } = await session.call('poll?qr=true');
        answers.push({ status, retryAfter: headers.get('retry-after'), body });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      // Another person's login started meanwhile gets a page in words with its traceId.
      const page = await another.browser.request(await another.authorizationUrl(), { headers: { accept: 'text/html' } });
      expect(page.status).toBe(503);
      expect(page.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await page.text()).toContain(page.headers.get('traceid')!);
      for (const answer of answers) {
        if (answer.status === 503) expect(answer).toMatchObject({ retryAfter: expect.stringMatching(/^\d+$/), body: { error: expect.any(String), error_description: expect.any(String) } });
        else expect(answer).toMatchObject({ status: 200, body: { status: 'IN_PROGRESS' } });
      }
    } finally {
      frozen.resume();
    }
    await eventually(async () => (await readiness(bed.tb.issuer)) === 200);
    const done = await session.pollUntil((state) => state.status !== 'IN_PROGRESS');
    expect(done.status).toBe('COMPLETE');
    const tokens = await session.bed.rp.redeem(await session.backToClient(done.redirectTo!));
    expect(tokens.claims()).toMatchObject({ name: expect.any(String) });
  });
});

describe('Cluster whose slots moved to another master (resharding) since the broker read the slot map', () => {
  const bed = clusterBroker('reshard');

  it('logins started at once all reach the client and their tokens work: no command the Cluster redirected is answered 500', async () => {
    const rp = await RelyingParty.discover(bed.tb.issuer, webClient);
    await rp.redeem(await logIn(rp));
    // Slots go from one master to another, key by key, as an operator's resharding moves them.
    const ids = await Promise.all(bed.nodes.map((node) => onNode(node, async (redis) => String(await redis.cluster('MYID')))));
    // Twice, each time from the master that holds the moved slots now: each is a slot map gone stale.
    for (const [from, to] of [[0, 1], [1, 2]] as const) {
      await run('redis-cli', ['--cluster', 'reshard', `127.0.0.1:${bed.nodes[from]!.port}`, '--cluster-from', ids[from]!, '--cluster-to', ids[to]!, '--cluster-slots', '5461', '--cluster-yes'], { maxBuffer: 64 * 1024 * 1024 });
      // Several at once, so that commands redirected and commands that run share an auto-pipeline.
      const logins = Array.from({ length: 12 }, async () => {
        const client = await RelyingParty.discover(bed.tb.issuer, webClient);
        const tokens = await client.redeem(await logIn(client));
        return client.userinfo(tokens.access_token, tokens.claims()!.sub);
      });
      const answers = await Promise.allSettled(logins);
      expect(answers.filter((answer) => answer.status === 'rejected').map((answer) => String((answer as PromiseRejectedResult).reason))).toEqual([]);
    }
  }, 120_000);

  it('reads sent together to one master, one of whose slots moved since, all get their records: none fails as the store unavailable', async () => {
    const { store } = bed.tb.broker;
    // Two keys on one master, in two slots; one slot moves to another master, the other stays.
    const placed = await placeOnOneMaster(bed.nodes, 'reshard:', 'split:a', (i) => `split:b${i}`);
    await store.set('split:a', 'moved');
    await store.set(placed.other, 'stayed');
    // A master emptied by the resharding above is a replica now.
    const masters = await mastersAmong(bed.nodes);
    await moveSlot(masters, placed.slot, placed.master, masters.find((node) => node !== placed.master)!);
    // Asked in one turn, the reads go out in one auto-pipeline to the master that held both.
    const [moved, stayed] = await Promise.all([store.get('split:a'), store.get(placed.other)]);
    expect([moved?.value, stayed?.value]).toEqual(['moved', 'stayed']);
  });
});

describe('maxmemory-policy', () => {
  const EVICTION_WARNING = 'Redis may evict keys';

  /** A broker on a Redis started with `args`: whether it warned about eviction once it was ready. */
  async function warnsOnRedisWith(args: string[]): Promise<boolean> {
    const redis = await startRedisServer({ args });
    const captured = capturingLog();
    const tb = await startTestBroker({ redis: { url: redis.url, key_prefix: 'policy:' } }, 'policy', { log: captured.log });
    try {
      expect(await readiness(tb.issuer)).toBe(200);
      // The check runs once the connection is ready; a login's worth of round trips is time enough.
      await eventually(() => captured.text().includes('Connected to Redis'));
      await RelyingParty.discover(tb.issuer, webClient).then((rp) => logIn(rp));
      return captured.text().includes(EVICTION_WARNING);
    } finally {
      await tb.close();
      await redis.stop();
    }
  }

  it('anything but noeviction is warned about at start-up', async () => {
    expect(await warnsOnRedisWith(['--maxmemory-policy', 'allkeys-lru'])).toBe(true);
    expect(await warnsOnRedisWith(['--maxmemory-policy', 'noeviction'])).toBe(false);
  });

  it('a Redis that refuses CONFIG (managed Redis) gets no word about it, and serves', async () => {
    expect(await warnsOnRedisWith(['--maxmemory-policy', 'allkeys-lru', '--rename-command', 'CONFIG', ''])).toBe(false);
  });

  it('a full Redis (maxmemory reached, noeviction): readiness says so, a login gets a page in words with its traceId, a code redeemed then is answered 503 and logged with the cause, and all works again once there is room', async () => {
    const redis = await startRedisServer({ args: ['--maxmemory-policy', 'noeviction'] });
    const captured = capturingLog();
    const tb = await startTestBroker({ redis: { url: redis.url, key_prefix: 'full:' } }, 'full', { log: captured.log });
    const admin = new Redis(redis.url);
    try {
      const rp = await RelyingParty.discover(tb.issuer, webClient);
      const callback = await logIn(rp);
      const redemption = codeRedemption(rp, callback);
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory', String(used));
      await expect(admin.set('filler', 'x'.repeat(100_000))).rejects.toThrow(/^OOM/);

      // Redis answers a round trip (PING) but refuses every write: no login can be served.
      const ready = await fetch(`${tb.issuer}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: { store: 'full' } });
      const page = await rp.browser.request(await rp.authorizationUrl(), { headers: { accept: 'text/html' } });
      expect(page.status).toBe(503);
      expect(page.headers.get('retry-after')).toBe('1');
      const text = await page.text();
      expect(text).toContain('<code>temporarily_unavailable</code>');
      expect(text).toContain(page.headers.get('traceid')!);
      // oidc-provider answers the token endpoint's failure itself: the operator is told why all the same.
      const refused = await tokenRequest(tb.issuer, webClient, redemption);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      const told = captured.lines().filter((line) => line.traceId === refused.headers.get('traceid') && line.msg === 'state store unavailable');
      expect(told).toEqual([expect.objectContaining({ reason: expect.stringMatching(/^OOM /) })]);
      // A frontend that asks whether to offer logins at all is told no.
      expect(await (await fetch(`${tb.issuer}/api/status`)).json()).toMatchObject({ status: 'ISSUES', store: { available: false } });

      await admin.config('SET', 'maxmemory', '0');
      expect(await readiness(tb.issuer)).toBe(200);
      expect(await (await fetch(`${tb.issuer}/api/status`)).json()).toMatchObject({ status: 'OK', store: { available: true } });
      // The code was not used up by the request Redis refused.
      expect((await tokenRequest(tb.issuer, webClient, redemption)).status).toBe(200);
      expect((await logIn(rp)).searchParams.get('code')).toBeTruthy();
    } finally {
      admin.disconnect();
      await tb.close();
      await redis.stop();
    }
  });
});

/**
 * A single Redis address whose server is demoted to a replica while the broker is connected: a
 * managed Redis's failover moves its address (DNS) to the promoted replica, but connections
 * already open stay on the old master, which now answers every write with READONLY.
 */
describe('the server behind redis.url demoted to a replica (a managed failover)', () => {
  const prefix = 'demoted:';
  let old: RedisServer;
  let promoted: RedisServer;
  let current: RedisServer;
  let passage: RedisPassage;
  let tb: TestBroker;

  beforeAll(async () => {
    const ownFolder = () => ['--dir', mkdtempSync(join(tmpdir(), 'neb-demoted-'))];
    old = await startRedisServer({ args: ownFolder() });
    promoted = await startRedisServer({ args: [...ownFolder(), '--replicaof', '127.0.0.1', String(old.port)] });
    current = old;
    // The address: each new connection goes to the server it names now.
    passage = await startRedisPassage({ get port() { return current.port; }, pause: () => current.pause() } as RedisServer);
    tb = await startTestBroker({ redis: { url: passage.url, key_prefix: prefix }, rate_limits: { enabled: false } }, 'demoted', { prefix });
    const linked = new Redis(promoted.port);
    try {
      await eventually(async () => (await linked.info('replication')).includes('master_link_status:up'), 200);
    } finally {
      linked.disconnect();
    }
  }, 60_000);
  afterAll(async () => {
    await tb?.close();
    await passage?.close();
    await promoted?.stop();
    await old?.stop();
  });

  it('the broker leaves the demoted server for the one the address names now: logins complete again within seconds', async () => {
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    expect((await rp.redeem(await logIn(rp))).access_token).toBeTruthy();
    const [toPromote, toDemote] = [new Redis(promoted.port), new Redis(old.port)];
    try {
      await toPromote.call('REPLICAOF', 'NO', 'ONE');
      current = promoted;
      await toDemote.call('REPLICAOF', '127.0.0.1', String(promoted.port));
    } finally {
      toPromote.disconnect();
      toDemote.disconnect();
    }
    const tokens = await eventually(async () => {
      try {
        return await rp.redeem(await logIn(rp));
      } catch {
        return undefined;
      }
    }, 50, 200);
    expect(tokens.access_token).toBeTruthy();
  }, 60_000);
});
