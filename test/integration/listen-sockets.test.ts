import { execFileSync } from 'node:child_process';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { reusePortSupported } from '../../src/http/reuse-port.js';
import { rawConnection } from '../support/http.js';
import { NODE_24 } from '../support/production-nodes.js';
import { spawnBroker, writeConfig, type BrokerProcess } from '../support/process.js';
import { findFreePort } from '../support/redis.js';

/**
 * The broker's listening sockets (`server.listen_sockets`, SO_REUSEPORT): Node's event loop takes
 * one new connection per listening socket per turn, so several sockets take several. Node 20
 * cannot open them; Node 22.12 and later can, and then opens 16 by default.
 */

const running: BrokerProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((broker) => broker.stop()));
});

/** The lightest eID to start: a configuration needs one. */
const simulatedFtn = { 'fi-ftn': { mode: 'simulator' } };

async function startOn(node: string, server: Record<string, unknown>): Promise<{ broker: BrokerProcess; port: number }> {
  const port = await findFreePort();
  const broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker.json', JSON.stringify({ port, server, eids: simulatedFtn })) }, [], node);
  running.push(broker);
  return { broker, port };
}

/** The listening sockets on `port`, as the kernel lists them. */
function listeners(port: number): number {
  return execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).split('\n').filter((line) => line.startsWith('LISTEN')).length;
}

/** A kept-alive request on `connection`, answered: the connection is then one the broker holds. */
function answered({ socket }: { socket: Socket }): Promise<string> {
  return new Promise((resolve) => {
    const seen = (chunk: string) => {
      if (!chunk.includes('\r\n\r\n')) return;
      socket.off('data', seen);
      resolve(chunk.slice(0, chunk.indexOf('\r\n')));
    };
    socket.on('data', seen);
    socket.write('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
}

describe('the listening sockets', () => {
  it('on Node 24: 16 by default, all serving; connections spread over them and all answered', async () => {
    const { broker, port } = await startOn(NODE_24, {});
    await broker.listening();
    expect(broker.output()).toContain('"listen_sockets":16');
    expect(listeners(port)).toBe(16);
    const answers = await Promise.all(
      Array.from({ length: 64 }, async () => (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`, { headers: { connection: 'close' } })).status),
    );
    expect(answers).toEqual(Array(64).fill(200));
  }, 60_000);

  it('on Node 24: max_connections is one cap over all of them, and SIGTERM closes them all', async () => {
    const { broker, port } = await startOn(NODE_24, { listen_sockets: 4, max_connections: 3 });
    await broker.listening();
    expect(listeners(port)).toBe(4);
    const held = [await rawConnection(port), await rawConnection(port), await rawConnection(port)];
    for (const connection of held) expect(await answered(connection)).toBe('HTTP/1.1 200 OK');
    // Past the cap, whichever socket the kernel gives a connection to closes it at once.
    const refused = await Promise.all(Array.from({ length: 12 }, () => rawConnection(port)));
    expect(await Promise.all(refused.map(({ closed }) => closed))).toEqual(Array(12).fill(''));
    // A held connection gone leaves room for one more.
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await expect.poll(async () => {
      const next = await rawConnection(port);
      const status = await Promise.race([answered(next), next.closed.then(() => 'closed')]);
      next.socket.destroy();
      return status;
    }).toBe('HTTP/1.1 200 OK');

    broker.child.kill('SIGTERM');
    expect((await broker.exited()).code).toBe(0);
    expect(listeners(port)).toBe(0);
  }, 60_000);

  it.each([
    ["this test run's Node", process.execPath],
    ['Node 24', NODE_24],
  ])('a second broker on a port a broker listens on (16 sockets) does not join it: on %s it stops, saying the address is in use', async (_node, node) => {
    const first = await startOn(NODE_24, {});
    await first.broker.listening();
    const second = spawnBroker({ BROKER_CONFIG: writeConfig('broker.json', JSON.stringify({ port: first.port, eids: simulatedFtn })) }, [], node);
    running.push(second);
    const { code, stderr } = await second.exited();
    expect(code).toBe(1);
    expect(stderr).toContain(`the broker could not start: listen EADDRINUSE: address already in use 127.0.0.1:${first.port}`);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(listeners(first.port)).toBe(16);
  }, 60_000);

  it("on this test run's Node: more than one where it can, else a configuration error naming the key", async () => {
    const { broker, port } = await startOn(process.execPath, { listen_sockets: 4 });
    if (reusePortSupported()) {
      await broker.listening();
      expect(listeners(port)).toBe(4);
    } else {
      const { code, stderr } = await broker.exited();
      expect(code).toBe(2);
      expect(stderr).toContain(`configuration error: server.listen_sockets: more than 1 needs Node 22.12 or later on Linux or FreeBSD (SO_REUSEPORT); this is Node ${process.versions.node}`);
    }
  }, 60_000);

  it("on this test run's Node: one by default where it cannot open more", async () => {
    const { broker, port } = await startOn(process.execPath, {});
    await broker.listening();
    expect(listeners(port)).toBe(reusePortSupported() ? 16 : 1);
  }, 60_000);
});

describe('reusePortSupported', () => {
  it.each([
    ['20.20.2', 'linux', false],
    ['22.11.0', 'linux', false],
    ['22.12.0', 'linux', true],
    ['23.0.0', 'linux', false],
    ['23.1.0', 'linux', true],
    ['24.22.3', 'linux', true],
    ['24.22.3', 'freebsd', true],
    ['24.22.3', 'darwin', false],
    ['24.22.3', 'win32', false],
  ])('Node %s on %s: %s', (version, platform, expected) => {
    expect(reusePortSupported(version, platform)).toBe(expected);
  });
});
