import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context, Middleware } from 'koa';
import type { Logger } from '../log.js';
import { BusyError, StoreUnavailableError, type Store } from '../store/store.js';
import { newTraceId } from './trace.js';
import type { ErrorPage, Views } from './views.js';

/** Seconds a client should wait before retrying while the store is down. */
const RETRY_AFTER_SECONDS = 1;

/** An error with a message meant for the client, the status to send it with, and when to retry. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly retryAfterSeconds?: number,
    /** What the error's page offers besides its message (a way back to the client). */
    readonly page?: ErrorPage,
  ) {
    super(description);
  }
}

/**
 * A poll of a login while another poll of it runs on this instance, which an eID that is polled
 * refuses: one at a time per login. The core counts it as the limit `poll` (neb_rate_limited_total).
 */
export class PollInProgressError extends HttpError {
  constructor() {
    super(429, 'too_many_requests', 'Another poll of this login is in progress.', 1);
  }
}

function wantsHtml(ctx: Context): boolean {
  return ctx.accepts('json', 'html') === 'html';
}

/**
 * Answers an error as an HTML page in plain words or as `{error, error_description}` JSON, kept by
 * no cache: it says how one request went (a login over, a limit reached), and a 404 or 405 is an
 * answer a cache may keep without being told (RFC 9110 §15.1).
 */
export function respondWithError(
  ctx: Context,
  views: Views,
  status: number,
  error: string,
  description: string,
  retryAfterSeconds = status === 503 ? RETRY_AFTER_SECONDS : undefined,
  page: ErrorPage = {},
): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (retryAfterSeconds !== undefined) ctx.set('Retry-After', String(retryAfterSeconds));
  if (wantsHtml(ctx)) views.renderError(ctx, { error, ...page });
  else ctx.body = { error, error_description: description };
}

/**
 * A 503 says when to ask again, whichever layer answered it: the broker's own, or oidc-provider's
 * handler of an error inside one of its endpoints (the store failing at /auth or /token). Set
 * before a page is drawn, whose Try again counts it down; a Retry-After already set stands. And
 * it changes none of the browser's cookies: the request did nothing, and its Try again needs the
 * cookies it came with — a login's return to /auth/<uid> clears its resume cookie before the
 * writes that can still fail there, and without it the login was over.
 */
export function retryAfterUnavailable(ctx: Context): void {
  if (ctx.status !== 503) return;
  if (!ctx.response.get('Retry-After')) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
  ctx.remove('Set-Cookie');
}

/**
 * The last line of defence: whatever escapes a route becomes a clear answer, never a stack
 * trace. Store outages become 503 with Retry-After, wherever they surface — also when the
 * provider's own error handler already answered 503 for one — and so does a process too busy
 * to serve the request (load shedding), with the reason `busy`.
 */
export function errorBoundary(views: Views, log: Logger): Middleware {
  // The rest of the stack's promise with both outcomes attached, rather than an async function
  // awaiting it: one promise fewer on every request.
  return (ctx, next) =>
    next().then(
      () => retryAfterUnavailable(ctx),
      (err: unknown) => answerEscaped(ctx, err, views, log),
    );
}

/** What escaped the routes, answered: a 503 for a busy process or a store away, the error's own answer, else a 500. */
function answerEscaped(ctx: Context, err: unknown, views: Views, log: Logger): void {
  if (err instanceof BusyError) {
    respondWithError(ctx, views, 503, err.error, err.error_description);
    // Said in so many words, so that no one takes a busy broker for a broken store.
    if (!wantsHtml(ctx)) ctx.body = { ...(ctx.body as object), reason: err.reason };
  } else if (err instanceof StoreUnavailableError) {
    logStoreUnavailable(log, err);
    // oidc-provider's error handler may have answered the store's failure already, in the words
    // of what failed (a logout's page), before a step of its own after it (saving the browser
    // session) failed the same way: that answer stands.
    if (ctx.status !== 503 || !ctx.body) respondWithError(ctx, views, 503, err.error, err.error_description);
    retryAfterUnavailable(ctx);
  } else if (err instanceof HttpError) {
    respondWithError(ctx, views, err.status, err.error, err.description, err.retryAfterSeconds, err.page);
  } else {
    log.error({ err }, 'unhandled error');
    respondWithError(ctx, views, 500, 'server_error', 'Something failed on our side. Quote the traceId to support.');
  }
}

/**
 * Tells the operator why the store failed a request, in ioredis's or Redis's words (never a
 * command's arguments): a timeout, a lost connection, a Cluster's refusal, a full memory (OOM).
 */
export function logStoreUnavailable(log: Logger, err: StoreUnavailableError): void {
  log.warn({ reason: err.cause instanceof Error ? err.cause.message : err.cause }, 'state store unavailable');
}

/**
 * While the store is known to be down, answer at once instead of letting each request find
 * out on its own. Paths that need no state (liveness, static files) still answer, and so do CORS
 * preflights, answered from headers alone: refused, they kept a single-page app's script from
 * reading the 503 of the request itself, which the browser then gave it as a network error.
 */
export function storeGuard(store: Store, views: Views, statelessPaths: (path: string) => boolean): Middleware {
  return (ctx, next) => {
    if (!store.available && !statelessPaths(ctx.path) && !(ctx.method === 'OPTIONS' && isPreflight(ctx))) {
      const err = new StoreUnavailableError();
      respondWithError(ctx, views, 503, err.error, err.error_description);
      return;
    }
    return next();
  };
}

/**
 * The methods the broker takes at some address: those its routers take (@koa/router's default
 * `methods`) and oidc-provider's. Any other (PROPFIND, TRACE, …) it takes at none.
 */
const IMPLEMENTED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * A browser gets here by opening a form's address by GET (entered again in the address bar): its
 * page says so, not that the service sent a request to blame it for.
 */
const methodNotAllowed = () =>
  new HttpError(405, 'invalid_request', 'This address does not take this method: the Allow header lists those it takes.', undefined, { during: 'wrong_method' });
const notImplemented = () => new HttpError(501, 'invalid_request', 'This server takes this method at no address.');

/**
 * A method an address does not take, by the status it is answered with. RFC 9110 §9.1 tells the
 * two apart, so that a client knows whether another method would do: 405 for one the broker takes
 * elsewhere (the Allow header lists those this address takes), 501 for one it takes nowhere.
 */
export const wrongMethod: Readonly<Record<number, () => HttpError>> = { 405: methodNotAllowed, 501: notImplemented };

/** The methods of an address that only serves a document: health, metrics, static files, discovery. */
export const READ_METHODS: readonly string[] = ['HEAD', 'GET'];

/** Whether a request only reads (GET, or HEAD: the same without the body). */
export const isRead = (method: string): boolean => READ_METHODS.includes(method);

/** The methods taken at a request path, if some endpoint answers there. */
export type MethodsAt = (path: string) => readonly string[] | undefined;

/**
 * Unknown paths get a 404 in the same shape as every other error; a method the broker takes at
 * no address gets its 501 at every address, not only at those a router has; and a method an
 * endpoint of oidc-provider does not take (`methodsAt`: the methods taken at an address of its)
 * gets 405 with those it takes in Allow, as the broker's own routers answer.
 */
export function notFound(views: Views, methodsAt: MethodsAt): Middleware {
  return async (ctx) => {
    if (!IMPLEMENTED_METHODS.has(ctx.method)) throw notImplemented();
    const allowed = methodsAt(ctx.path);
    if (allowed) {
      ctx.set('Allow', allowed.join(', '));
      throw methodNotAllowed();
    }
    respondWithError(ctx, views, 404, 'not_found', 'There is nothing at this address.');
  };
}

/** Whether a request is a CORS preflight (Fetch §3.2.2): OPTIONS with Origin and Access-Control-Request-Method. */
function isPreflight(ctx: Context): boolean {
  return ctx.get('origin') !== '' && ctx.get('access-control-request-method') !== '';
}

/**
 * An OPTIONS request that is not a CORS preflight, at an address of oidc-provider's that answers
 * preflights (`methodsAt` lists OPTIONS there), is answered with the methods the address takes
 * in Allow, as the broker's own routers answer OPTIONS. oidc-provider's CORS step passes such a
 * request on, and it would end as Koa's bare "Not Found" in plain text.
 */
export function plainOptions(methodsAt: MethodsAt): Middleware {
  return (ctx, next) => {
    const allowed = ctx.method === 'OPTIONS' && !isPreflight(ctx) ? methodsAt(ctx.path) : undefined;
    if (!allowed?.includes('OPTIONS')) return next();
    ctx.set('Allow', allowed.join(', '));
    ctx.status = 204;
  };
}

/** What Node's HTTP parser refuses before the app sees the request, by its error code. */
const parserRefusals: Record<string, { status: number; description: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, description: 'The request line and headers are too large.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, description: 'The request took too long to arrive.' },
};
const malformedRequest = { status: 400, description: 'The request is not well-formed HTTP.' };

/** What an answer written straight to the socket needs: the headers every answer carries (securityHeadersFor), and the log. */
export interface SocketAnswers {
  securityHeaders: Readonly<Record<string, string>>;
  log: Logger;
}

/** The headers and body of an answer to a request that never reaches the app, as the app answers errors; logged. The connection is closed after it. */
function refusal(status: number, description: string, on: SocketAnswers, reason: string): { headers: Record<string, string>; body: string } {
  const traceId = newTraceId();
  const body = JSON.stringify({ error: 'invalid_request', error_description: description });
  const headers = {
    Connection: 'close',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    traceId,
    ...on.securityHeaders,
  };
  on.log.info({ traceId, status, reason }, 'request refused before the app');
  return { headers, body };
}

/**
 * An answer written straight to the socket, for a request that never reaches the app: the
 * security headers, `{error, error_description}` with a traceId, logged, and the connection closed.
 */
function answerOnSocket(socket: Duplex, status: number, description: string, on: SocketAnswers, reason: string): void {
  const { headers, body } = refusal(status, description, on, reason);
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status]}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/** An Expect the broker does not meet: only `100-continue` is an expectation HTTP/1.1 defines (RFC 9110 §10.1.1). */
const EXPECTATION_FAILED = { status: 417, description: 'The broker meets no expectation but Expect: 100-continue: send the request without Expect.' };

/**
 * Answers requests that never reach the app the way the app answers errors, instead of Node's
 * bare status line or a closed connection: those Node's HTTP parser refuses (headers too large,
 * malformed HTTP), an Expect other than 100-continue (417), and CONNECT, which Node hands to a
 * listener of its own and else drops without a word — the broker is no proxy, so it takes the
 * method at no address (501).
 */
export function answerParserErrors(server: Server, on: SocketAnswers): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const { status, description } = parserRefusals[error.code ?? ''] ?? malformedRequest;
    answerOnSocket(socket, status, description, on, error.code ?? 'malformed');
  });
  // Node answers another Expect with a bare 417 of its own unless the server listens for it.
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const { status, description } = EXPECTATION_FAILED;
    const { headers, body } = refusal(status, description, on, 'expectation');
    res.writeHead(status, headers).end(body);
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    const { status, description } = notImplemented();
    answerOnSocket(socket, status, description, on, 'CONNECT');
  });
}
