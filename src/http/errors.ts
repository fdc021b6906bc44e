import type { Context, Middleware } from 'koa';
import type { Logger } from '../log.js';
import { StoreUnavailableError, type Store } from '../store/store.js';
import type { Views } from './views.js';

/** Seconds a client should wait before retrying while the store is down. */
const RETRY_AFTER_SECONDS = 1;

/** An error with a message meant for the client, the status to send it with, and when to retry. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(description);
  }
}

function wantsHtml(ctx: Context): boolean {
  return ctx.accepts('json', 'html') === 'html';
}

/** Answers an error as an HTML page in plain words or as `{error, error_description}` JSON. */
export function respondWithError(
  ctx: Context,
  views: Views,
  status: number,
  error: string,
  description: string,
  retryAfterSeconds = status === 503 ? RETRY_AFTER_SECONDS : undefined,
): void {
  ctx.status = status;
  if (retryAfterSeconds !== undefined) ctx.set('Retry-After', String(retryAfterSeconds));
  if (wantsHtml(ctx)) views.renderError(ctx, { error });
  else ctx.body = { error, error_description: description };
}

/**
 * The last line of defence: whatever escapes a route becomes a clear answer, never a stack
 * trace. Store outages become 503 with Retry-After, wherever they surface — also when the
 * provider's own error handler already answered 503 for one.
 */
export function errorBoundary(views: Views, log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
    } catch (err) {
      if (err instanceof StoreUnavailableError) {
        log.warn('state store unavailable');
        respondWithError(ctx, views, 503, err.error, err.error_description);
      } else if (err instanceof HttpError) {
        respondWithError(ctx, views, err.status, err.error, err.description, err.retryAfterSeconds);
      } else {
        log.error({ err }, 'unhandled error');
        respondWithError(ctx, views, 500, 'server_error', 'Something failed on our side. Quote the traceId to support.');
      }
    }
  };
}

/**
 * While the store is known to be down, answer at once instead of letting each request find
 * out on its own. Paths that need no state (liveness, static files) still answer.
 */
export function storeGuard(store: Store, views: Views, statelessPaths: (path: string) => boolean): Middleware {
  return async (ctx, next) => {
    if (!store.available && !statelessPaths(ctx.path)) {
      const err = new StoreUnavailableError();
      respondWithError(ctx, views, 503, err.error, err.error_description);
      return;
    }
    await next();
  };
}

/** Unknown paths get a 404 in the same shape as every other error. */
export function notFound(views: Views): Middleware {
  return async (ctx) => {
    respondWithError(ctx, views, 404, 'not_found', 'There is nothing at this address.');
  };
}
