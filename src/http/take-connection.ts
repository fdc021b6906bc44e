import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

/**
 * The parts of Node's HTTP server kept on a connection it parses (not in Node's types; the same
 * in Node 20, 22 and 24). The parser reads the socket itself (`consume`) and is listed for the
 * server's headers and request timeouts.
 */
interface HttpParser {
  /** The request it read last: a request pipelined after the one being answered, if it is not that one. */
  incoming?: IncomingMessage | null;
  _consumed?: boolean;
  unconsume(): void;
  remove?(): void;
  close(): void;
}

interface ParsedSocket extends Socket {
  parser?: HttpParser | null;
  _httpMessage?: ServerResponse | null;
}

/**
 * Listeners for a connection's whole life rather than for one request (the connection cap's
 * count, src/http/server.ts): a connection taken from the HTTP server keeps them.
 */
const lifelong = new WeakSet<(...args: never[]) => void>();

/** Calls `listener` when `socket` closes, whether or not the connection is taken from the HTTP server before. */
export function onConnectionClose(socket: Socket, listener: () => void): void {
  lifelong.add(listener);
  socket.once('close', listener);
}

/**
 * Whether `request` has its connection to itself: no request before it is still being answered
 * (pipelined requests are answered in turn) and none was read after it. A connection taken from
 * the HTTP server with other requests on it would leave those unanswered — and in flight for a
 * graceful shutdown, which then waits its whole limit — for as long as it stays open.
 */
export function aloneOnConnection(request: IncomingMessage, response: ServerResponse): boolean {
  const socket = request.socket as ParsedSocket;
  const latest = socket.parser?.incoming;
  return socket._httpMessage === response && (!latest || latest === request);
}

/** The events the HTTP server listens to on a connection (as do Koa's on-finished, and net itself on `end`). */
const SERVER_EVENTS = ['data', 'end', 'close', 'drain', 'error', 'timeout', 'resume', 'pause'] as const;

/**
 * The HTTP server's own wrappers on a connection's methods, which net.Socket's own replace. Not
 * deleted: an object that loses a property turns into a dictionary in V8, which for a socket
 * costs about 1.3 KB more for as long as the connection stays open (Node puts them back the same
 * way itself once a wrapper finds the parser gone).
 */
const SERVER_METHODS = ['on', 'addListener', 'prependListener', 'setEncoding'] as const;

/**
 * Takes a connection away from Node's HTTP server once its request has been answered in part
 * by the caller, who writes the rest to the socket itself: the same handover Node does for an
 * `upgrade`, done after the request went through the app's middleware. The parser is released
 * and taken off the server's timeout checks, the server's, Koa's and on-finished's listeners
 * go, and nothing refers to the request, the response or the Koa context any more, so a
 * long-lived response costs the socket alone. The response counts as closed for whoever waits
 * on it (the drain).
 *
 * The caller owns the socket from here: it must listen for `error`, `end` and `close`. Bytes
 * that arrive are dropped unless it listens for `data` (the socket keeps flowing).
 */
export function takeConnection(request: IncomingMessage, response: ServerResponse): Socket {
  const socket = request.socket as ParsedSocket;
  const parser = socket.parser;
  for (const event of SERVER_EVENTS) {
    const kept = socket.listeners(event).filter((listener) => lifelong.has(listener as () => void));
    socket.removeAllListeners(event);
    for (const listener of kept) socket.once(event, listener as () => void);
  }
  for (const method of SERVER_METHODS) (socket as unknown as Record<string, unknown>)[method] = Socket.prototype[method];
  socket._httpMessage = null;
  // A kept-alive connection may carry the keep-alive timer of the request before.
  socket.setTimeout(0);
  if (parser) {
    socket.parser = null;
    // Once the parser is out of the call stack: a call made while it parses (a handler that
    // answers at once) would see it list the connection again when the request ends, and Node
    // frees a parser it does not pool the same way.
    setImmediate(releaseParser, parser);
  }
  response.emit('close');
  return socket;
}

/** Stops the parser reading the socket, takes it off the server's timeout checks, and frees it. */
function releaseParser(parser: HttpParser): void {
  if (parser._consumed) parser.unconsume();
  parser._consumed = false;
  parser.remove?.();
  parser.close();
}
