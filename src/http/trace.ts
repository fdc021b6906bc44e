import { randomFillSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, Middleware } from 'koa';
import type { Logger } from '../log.js';
import { requestScope } from './request-scope.js';

const TRACE_ID = /^[0-9a-f]{16}$/;

/** Random bytes drawn 512 traceIds at a time: one call into the CSPRNG per 512 requests, not one each. */
const pool = Buffer.alloc(8 * 512);
let poolOffset = pool.length;

/** A new traceId: 16 lowercase hex characters. */
export function newTraceId(): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += 8;
  return pool.toString('hex', poolOffset - 8, poolOffset);
}

/**
 * The traceId of a request: one a trusted proxy sent, else a new one, made once per request.
 * A request may be looked at by the kept poll's direct answer and then handed to the app
 * (answerKeptPolls): both use the same id, so the lines written for it carry one traceId.
 */
const traceIds = new WeakMap<IncomingMessage, string>();

export function traceIdOf(req: IncomingMessage, trustProxy: boolean): string {
  let traceId = traceIds.get(req);
  if (traceId) return traceId;
  const incoming = req.headers.traceid;
  traceId = trustProxy && typeof incoming === 'string' && TRACE_ID.test(incoming) ? incoming : newTraceId();
  traceIds.set(req, traceId);
  return traceId;
}

/** What the access line says of a request. */
export interface Access {
  method: string;
  path: string;
  status: number;
  /** When serving it started (performance.now()). */
  started: number;
}

/** The request's access line: at info, or at debug for a `routine` request's success. */
export function logAccess(log: Logger, routine: boolean, { method, path, status, started }: Access): void {
  const level = status < 400 && routine ? 'debug' : 'info';
  // The path only: query strings can carry login hints with personal numbers.
  if (log.isLevelEnabled(level)) log[level]({ method, path, status, ms: Math.round(performance.now() - started) }, 'request');
}

/** Requests a page repeats all the time, e.g. a waiting login's poll: their success is not news. */
export type RoutineRequests = (ctx: Context) => boolean;

const none: RoutineRequests = () => false;

/**
 * Gives every request a traceId: sent back in the `traceId` header, carried by every log line
 * written while serving it, and shown on error pages so a person can quote it to support.
 * A well-formed traceId from a trusted proxy is kept, so one id follows the request end to end.
 * Each request gets one access line at info; a `routine` request that succeeds gets it at debug
 * (thousands of waiting pages poll once a second each), while its failures stay at info.
 */
export function trace(log: Logger, trustProxy: boolean, routine: RoutineRequests = none): Middleware {
  return (ctx, next) => {
    const traceId = traceIdOf(ctx.req, trustProxy);
    ctx.set('traceId', traceId);
    ctx.state.traceId = traceId;
    const started = performance.now();
    const logged = () => logAccess(log, routine(ctx), { method: ctx.method, path: ctx.path, status: ctx.status, started });
    // The rest of the stack's promise, followed by the line: no async function, whose own promise
    // and resumption Node's promise hooks would track on every request.
    return requestScope.run(ctx, () =>
      next().then(logged, (err: unknown) => {
        logged();
        throw err;
      }),
    );
  };
}
