import type { AsyncLocalStorage } from 'node:async_hooks';
import providerRequests from 'oidc-provider/lib/helpers/als.js';

/** What a request's scope holds: its Koa context, whose state carries the request's traceId. */
export interface ScopedRequest {
  state: { traceId?: string };
}

/**
 * The request being served, for code that is not handed it (log lines, audit events, error
 * pages, oidc-provider's callbacks). It is oidc-provider's own AsyncLocalStorage, holding the same
 * Koa context oidc-provider puts there: with one AsyncLocalStorage instead of two, Node 20 copies
 * one store, not two, to every promise a request makes, and oidc-provider's `run` with the
 * context already current returns at once.
 */
export const requestScope = providerRequests as AsyncLocalStorage<ScopedRequest>;

/** The traceId of the request being served, if any. */
export function currentTraceId(): string | undefined {
  return requestScope.getStore()?.state.traceId;
}

/**
 * Runs `work` outside any request's scope, for the timers it sets. Node gives every timer the
 * scope it was made in, and what runs when it fires runs in that scope: a timer set while serving
 * a request holds that request's Koa context (its request, response, cookies, oidc-provider's
 * context) for as long as it waits — some 8 kB for each of 10,000 waiting pages whose stream ends
 * at its login's expiry, minutes away — and work shared by many requests (a ticker, a batch) would
 * write the traceId of whichever request started it on its log lines.
 */
export function outsideRequest<T>(work: () => T): T {
  return requestScope.exit(work);
}

/** Runs work in a scope chosen earlier (traceScope). */
export type TraceScope = <T>(work: () => T) => T;

/**
 * The current request's traceId alone, as a scope to run later work in: what a request sets going
 * for its own login (its CIBA request's give-up, a watched login's polls and collects) logs under
 * the reference its person or client was given, without holding the request itself.
 */
export function traceScope(): TraceScope {
  const traceId = currentTraceId();
  const scope = traceId ? { state: { traceId } } : undefined;
  return (work) => (scope ? requestScope.run(scope, work) : outsideRequest(work));
}
