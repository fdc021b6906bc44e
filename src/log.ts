import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** What every log line of one request shares; set by the trace middleware. */
export interface RequestScope {
  traceId: string;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

/**
 * The broker's logger. Every line written while a request is being served carries that
 * request's traceId, the same id its response sends in the `traceId` header. The lines go to
 * stdout, or to `destination`.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'nordic-eid-broker' },
    mixin: () => {
      const scope = requestScope.getStore();
      return scope ? { traceId: scope.traceId } : {};
    },
    // Secrets are never passed to the logger on purpose; this is the net under that rule.
    redact: {
      paths: [
        '*.client_secret', '*.password', '*.passphrase', '*.qrStartSecret', '*.subject_secret',
        '*.cookie_keys', 'req.headers.authorization', 'req.headers.cookie',
      ],
      censor: '[redacted]',
    },
  };
  // Written asynchronously: lines that come while a write is under way go out together in the
  // next one, rather than one system call each. pino still flushes what is left when the process exits.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
