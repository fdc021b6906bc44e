import { randomFillSync } from 'node:crypto';
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
  // Not an async function itself: the scope's function is the request's one async step here.
  return (ctx, next) => {
    const incoming = ctx.get('traceid');
    const traceId = trustProxy && TRACE_ID.test(incoming) ? incoming : newTraceId();
    ctx.set('traceId', traceId);
    ctx.state.traceId = traceId;
    const started = performance.now();
    return requestScope.run(ctx, async () => {
      try {
        await next();
      } finally {
        const level = ctx.status < 400 && routine(ctx) ? 'debug' : 'info';
        // The path only: query strings can carry login hints with personal numbers.
        if (log.isLevelEnabled(level)) log[level]({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
      }
    });
  };
}
