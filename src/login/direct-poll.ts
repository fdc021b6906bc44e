import type { RequestListener, ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { Context } from 'koa';
import { requestScope } from '../http/request-scope.js';
import { logAccess, traceIdOf } from '../http/trace.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import { JSON_TYPE, NO_STORE, type KeptPoll } from './api.js';

export interface DirectPollDependencies {
  app: Koa;
  keptPoll: KeptPoll;
  /**
   * Whether a step every request takes in the app would refuse this one (load shedding, the
   * store away, the body or parameter limits): the app then answers it, with its refusal.
   */
  refusedByApp: (ctx: Context) => boolean;
  trustProxy: boolean;
  /** The headers every answer carries (securityHeadersFor). */
  securityHeaders: Readonly<Record<string, string>>;
  log: Logger;
  metrics: Metrics;
}

/** The answer's headers, in the order the app sets them, less the traceId's value and the length's. */
function answerHeaders(securityHeaders: Readonly<Record<string, string>>): readonly string[] {
  return ['traceId', '', ...Object.entries(securityHeaders).flat(), ...NO_STORE, 'Content-Type', JSON_TYPE, 'Content-Length', ''];
}
const TRACE_ID_AT = 1;

function writeJson(res: ServerResponse, answerHeaders: readonly string[], traceId: string, body: Buffer): void {
  const headers = [...answerHeaders];
  headers[TRACE_ID_AT] = traceId;
  headers[headers.length - 1] = String(body.length);
  res.writeHead(200, headers);
  res.end(body);
}

/**
 * The broker's request listener: `app` (Koa's callback) for every request but a waiting page's
 * poll that this instance answers from its copies, which is answered here, on Node's request,
 * without Koa's context, stack and response — the bulk of such a poll's cost once the poll itself
 * is cheap. Such a poll is answered with what the app's kept poll answers (KeptPoll): the same
 * status, headers and body, its traceId, and the access line at debug. Any poll that would go
 * otherwise — refused by a step of the app's, not taken (KeptPoll.takes), or one KeptPoll's
 * `quietAnswer` does not finish cleanly (a 429, an error, a login that ends) — is handed to the
 * app untouched, before anything is written, and the app answers it as it always has. Of the
 * steps every request takes, those that change nothing in such an answer are not run: the
 * issuer's host (nothing here reads the Host header), the error boundary (an error hands over).
 */
export function answerKeptPolls(deps: DirectPollDependencies, app: RequestListener): RequestListener {
  const { keptPoll, refusedByApp, trustProxy, log, metrics } = deps;
  const headers = answerHeaders(deps.securityHeaders);
  /** Whether the poll is answered here; a request any check cannot read goes to the app, whose error boundary answers it. */
  const taken = (ctx: Context): boolean => {
    try {
      return !refusedByApp(ctx) && keptPoll.takes(ctx);
    } catch {
      return false;
    }
  };
  return (req, res) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/interaction/')) return app(req, res);
    const started = performance.now();
    // Koa's own context for this request, so that the kept poll's steps read it as they do in the app.
    const ctx = deps.app.createContext(req, res);
    if (!taken(ctx)) return app(req, res);
    const traceId = traceIdOf(req, trustProxy);
    ctx.state.traceId = traceId;
    const handOver = () => app(req, res);
    // In the request's scope, the access line with the others: each carries the traceId.
    requestScope.run(ctx, () =>
      keptPoll.quietAnswer(ctx).then((body) => {
        if (!body) return handOver();
        writeJson(res, headers, traceId, body);
        metrics.pollsAnsweredDirectly.inc();
        logAccess(log, true, { method: 'POST', path: ctx.path, status: 200, started });
      }, handOver),
    ).catch((err: unknown) => {
      // Only writing the answer can fail here, when part of it may have gone: nothing to hand over.
      log.error({ err }, 'a poll answered directly could not be written');
      res.destroy();
    });
  };
}
