import { pino, type DestinationStream, type Logger } from 'pino';
import { currentTraceId } from './http/request-scope.js';
import { descriptorLines, type HeldLines } from './log-lines.js';

export type { Logger };

const CENSOR = '[redacted]';
/**
 * The broker's own secret fields, censored on a log line itself and in any object it carries at
 * its top level (`{client: {client_secret}}`). The eIDs' secrets (in their records) are named by
 * whoever creates the logger, since the core does not know them.
 */
const SECRET_FIELDS = ['client_secret', 'password', 'passphrase', 'subject_secret', 'cookie_keys'];
/** Request headers censored under `req.headers`. */
const SECRET_HEADERS = ['authorization', 'cookie'];

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;

/** Whether `value` has any of `names` as its own field: a loop, as this runs on every log line. */
function hasAnyOf(value: Fields, names: readonly string[]): boolean {
  for (let index = 0; index < names.length; index += 1) if (Object.hasOwn(value, names[index]!)) return true;
  return false;
}

/** A copy of `value` with `names` censored, keeping its prototype and hidden fields (an Error stays one); `value` itself when none is there. */
function censored<T extends Fields>(value: T, names: readonly string[]): T {
  if (!hasAnyOf(value, names)) return value;
  const descriptors: Record<string, PropertyDescriptor> = Object.getOwnPropertyDescriptors(value);
  // Node 22 and later's V8 gives an error its stack as an accessor that answers for that error alone: its copy takes the text.
  if (descriptors.stack?.get) descriptors.stack = { value: value.stack, writable: true, configurable: true, enumerable: descriptors.stack.enumerable ?? false };
  const copy = Object.defineProperties(Object.create(Object.getPrototypeOf(value) as object | null), descriptors) as Fields;
  for (const name of names) if (Object.hasOwn(copy, name)) copy[name] = CENSOR;
  return copy as T;
}

/**
 * The line's fields with secrets censored, the line itself untouched (the caller's objects are
 * never changed). Looking only at objects, and copying only where a secret is, costs a few
 * property checks per line; pino's own `redact` with wildcard paths ran its redactor on every
 * field of every line (about 15 µs a line), on the token endpoint's two lines per request.
 */
function redactSecrets(fields: Fields, secretFields: readonly string[]): Fields {
  let result = censored(fields, secretFields);
  // A plain loop over the line's own fields: this runs for every line, and entries() would make an array of pairs each time.
  for (const name in fields) {
    const value = fields[name];
    if (!Object.hasOwn(fields, name) || !isObject(value)) continue;
    let safe = censored(value, secretFields);
    if (name === 'req' && isObject(safe.headers)) {
      const headers = censored(safe.headers, SECRET_HEADERS);
      if (headers !== safe.headers) safe = { ...safe, headers };
    }
    if (safe !== value) result = { ...result, [name]: safe };
  }
  return result;
}

let stdout: HeldLines | undefined;

/**
 * stdout, one for the process: lines held for a few ms and written together (HeldLines), each
 * batch asynchronously, so that lines that come while a write is under way join the next one.
 */
function stdoutLines(): HeldLines {
  stdout ??= descriptorLines(1);
  return stdout;
}

/**
 * The broker's logger. Every line written while a request is being served carries that
 * request's traceId, the same id its response sends in the `traceId` header. The lines go to
 * stdout, or to `destination`. `secretFields` are censored besides the broker's own.
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream, secretFields: readonly string[] = []): Logger {
  const censoredFields = [...SECRET_FIELDS, ...secretFields];
  const options = {
    level,
    base: { service: 'nordic-eid-broker' },
    // ISO 8601, as the audit events' own `time`: one format of time in every line and event.
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => {
      const traceId = currentTraceId();
      return traceId ? { traceId } : {};
    },
    // Secrets are never passed to the logger on purpose; this is the net under that rule. It
    // covers what each line is given; a child logger's bindings are the broker's own fields.
    formatters: { log: (fields: Fields) => redactSecrets(fields, censoredFields) },
  };
  return pino(options, destination ?? stdoutLines());
}
