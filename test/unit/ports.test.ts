import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { findFreePort } from '../support/ports.js';

/** A server on a loopback port the kernel picks, as every other test's and program's would be. */
async function kernelPickedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  return port;
}

describe('findFreePort', () => {
  it('hands out ports no one else is given meanwhile: not twice, never one the kernel picks, and free to listen on', async () => {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
    const ports = await Promise.all(Array.from({ length: 300 }, () => findFreePort()));
    expect(new Set(ports).size).toBe(ports.length);
    expect(ports.filter((port) => port >= low && port <= high)).toEqual([]);
    const picked = await Promise.all(Array.from({ length: 300 }, kernelPickedPort));
    expect(picked.filter((port) => ports.includes(port))).toEqual([]);
    const server = createServer().listen(ports[0], '127.0.0.1');
    await once(server, 'listening');
    server.close();
  });
});
