import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { BrokerConfig } from '../config/schema.js';
import { clientAddress } from './client-ip.js';
import { reusePortSupported } from './reuse-port.js';
import { onConnectionClose } from './take-connection.js';

/** How often Node looks for connections past their headers or request timeout. */
const TIMEOUT_CHECK_MS = 1000;

type ServerSettings = BrokerConfig['server'];

/**
 * The broker's HTTP server, with the `server` limits: a client that sends its headers or its
 * body too slowly is answered 408 and disconnected, and an idle kept-alive connection is
 * closed. Node's own defaults would keep a slow request open for 5 minutes. (The cap on open
 * connections is set where the servers listen: one cap over all of them.)
 */
export function createHttpServer(listener: RequestListener, settings: ServerSettings): Server {
  const server = createServer(
    {
      headersTimeout: settings.headers_timeout_seconds * 1000,
      requestTimeout: settings.request_timeout_seconds * 1000,
      connectionsCheckingInterval: TIMEOUT_CHECK_MS,
      // The app refuses a request without Host itself (addressedToIssuer), with a body and a traceId.
      requireHostHeader: false,
    },
    listener,
  );
  server.keepAliveTimeout = settings.keep_alive_timeout_seconds * 1000;
  return server;
}

/** Listening sockets where Node can open several: each lets the loop take one more new connection per turn. */
const DEFAULT_LISTEN_SOCKETS = 16;

/** How many sockets the broker listens on: as configured, else as many as this Node can open. */
function listenSocketCount(settings: Pick<ServerSettings, 'listen_sockets'>): number {
  return settings.listen_sockets ?? (reusePortSupported() ? DEFAULT_LISTEN_SOCKETS : 1);
}

/**
 * The broker's listening sockets, all on one port and all serving `listener`. Node's event
 * library takes one new connection per listening socket per turn of the loop; while the loop is
 * busy with requests on open connections, new ones wait in the kernel's accept queue for as many
 * turns as there are ahead of them. With `server.listen_sockets` sockets (SO_REUSEPORT; the
 * kernel spreads new connections over them), the loop takes that many per turn.
 */
export async function listenOn(listener: RequestListener, settings: ServerSettings, address: { port: number; host: string }): Promise<Server[]> {
  const count = listenSocketCount(settings);
  const servers = Array.from({ length: count }, () => createHttpServer(listener, settings));
  // Counted from the first connection on: the cap is in place before any socket listens.
  capConnections(servers, settings.max_connections);
  capConnectionsPerAddress(servers, settings.max_connections_per_ip);
  const listen = async (server: Server, port: number): Promise<number> => {
    // reusePort only when there are several: Node before 22.12 does not know the option.
    server.listen({ port, host: address.host, backlog: settings.listen_backlog, ...(count > 1 ? { reusePort: true } : {}) });
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  };
  if (count > 1 && address.port !== 0) await refuseTakenPort(address);
  const port = await listen(servers[0]!, address.port);
  try {
    for (const server of servers.slice(1)) await listen(server, port);
  } catch (error) {
    for (const server of servers) if (server.listening) server.close();
    throw error;
  }
  return servers;
}

/**
 * At most `max` open connections from one address (IPv6: its /64) over all `servers`; one more
 * is closed at once. Without it, one host holding `server.max_connections` connections open
 * (headers sent slowly, idle ones opened again as they time out) would have every other
 * person's closed at once.
 */
function capConnectionsPerAddress(servers: Server[], max: number): void {
  if (max === 0) return;
  const open = new Map<string, number>();
  for (const server of servers) {
    server.on('connection', (socket: Socket) => {
      const address = clientAddress(socket.remoteAddress ?? '');
      const count = (open.get(address) ?? 0) + 1;
      if (count > max) {
        socket.destroy();
        return;
      }
      open.set(address, count);
      onConnectionClose(socket, () => {
        const left = open.get(address)! - 1;
        if (left === 0) open.delete(address);
        else open.set(address, left);
      });
    });
  }
}

/**
 * Fails with EADDRINUSE, as a single listening socket would, when something listens on the
 * port already: sockets that share a port (SO_REUSEPORT) would otherwise join another broker of
 * the same user listening there and split its connections with it, silently.
 */
async function refuseTakenPort(address: { port: number; host: string }): Promise<void> {
  const probe = createNetServer();
  probe.listen({ port: address.port, host: address.host });
  await once(probe, 'listening');
  await new Promise((resolve) => probe.close(resolve));
}

/**
 * One cap on the open connections over all `servers`: each may take what the others leave.
 * Node refuses a connection past a server's `maxConnections` before it costs anything (it
 * closes the accepted socket at once), so each server's is kept at its own connections plus
 * what is left under the cap.
 */
function capConnections(servers: Server[], max: number): void {
  if (max === 0) return;
  const own = new Map(servers.map((server) => [server, 0]));
  let open = 0;
  const setCaps = () => {
    for (const [server, connections] of own) server.maxConnections = connections + max - open;
  };
  for (const server of servers) {
    server.on('connection', (socket: Socket) => {
      open += 1;
      own.set(server, own.get(server)! + 1);
      setCaps();
      onConnectionClose(socket, () => {
        open -= 1;
        own.set(server, own.get(server)! - 1);
        setCaps();
      });
    });
  }
  setCaps();
}
