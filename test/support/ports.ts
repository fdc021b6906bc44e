import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/**
 * Where the kernel picks the ports it hands out by itself: to a server listening on port 0
 * and to the local end of every outgoing connection.
 */
function kernelPortRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined) return { low, high };
  } catch {
    // Not Linux, or no /proc: Linux's default range.
  }
  return { low: 32768, high: 60999 };
}

/** The ports handed out here: below the kernel's range (which it never gives away), above the well-known services. */
const kernel = kernelPortRange();
const lowest = Math.max(10_000, kernel.low - 12_000);
if (lowest >= kernel.low) throw new Error(`No loopback ports below the kernel's range ${kernel.low}-${kernel.high} to hand out`);

/** Reservations this process holds, kept until it exits (the kernel then lets them go, whatever the way out). */
const held: Server[] = [];

/** Listens on `where` (a TCP port on loopback, or a socket's name); false when that is taken. */
async function listens(server: Server, where: number | string): Promise<boolean> {
  if (typeof where === 'number') server.listen(where, '127.0.0.1');
  else server.listen(where);
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error as Error))]);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return false;
    throw error;
  }
}

/**
 * Claims `port` for this process among every process that uses this module — the test files in
 * parallel, the bench, other runs on the machine: an abstract Unix socket named after the port can
 * be bound by one process only, and is freed by the kernel when that process ends.
 */
async function reserve(port: number): Promise<boolean> {
  const claim = createServer();
  if (!(await listens(claim, `\0nordic-eid-broker-test-port-${port}`))) return false;
  claim.unref();
  held.push(claim);
  return true;
}

/** Whether nothing on the machine listens on `port` right now (a program that does not reserve ports here). */
async function isFree(port: number): Promise<boolean> {
  const probe = createServer();
  if (!(await listens(probe, port))) return false;
  probe.close();
  await once(probe, 'close');
  return true;
}

/**
 * A loopback port that stays free for the caller: reserved for this process until it exits, and
 * out of the kernel's range, so no other test, bench or server listening on port 0 (nor any
 * outgoing connection) is given it between this call and the caller's server listening on it —
 * a child process that must be told its port up front included. The tests and the bench share it.
 */
export async function findFreePort(): Promise<number> {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = lowest + Math.floor(Math.random() * (kernel.low - lowest));
    if ((await reserve(port)) && (await isFree(port))) return port;
  }
  throw new Error(`No free loopback port found between ${lowest} and ${kernel.low - 1}`);
}
