import type { Context, Middleware } from 'koa';
import { HttpError } from './errors.js';
import { MAX_JSON_DEPTH, nestedDeeperThan } from './parameters.js';

/**
 * Refuses a request body larger than `maxBytes` before anyone reads it — the broker's own
 * routes and oidc-provider's endpoints alike — with 413, and closes the connection rather than
 * read the rest. A body of unknown length (chunked) is refused with 411: every client of an
 * OpenID provider sends Content-Length, and only a known length can be refused up front. A
 * compressed body (Content-Encoding) is refused with 415: no reader here decompresses, so its
 * bytes would be read as a form and answered with a misleading "missing parameter".
 */
export function bodyLimit(maxBytes: number): Middleware {
  return (ctx, next) => {
    const refusal = bodyRefusal(ctx, maxBytes);
    if (refusal) {
      ctx.set('Connection', 'close');
      throw refusal;
    }
    return next();
  };
}

/** Why bodyLimit refuses the request, if it does. */
export function bodyRefusal(ctx: Context, maxBytes: number): HttpError | undefined {
  const declared = ctx.get('content-length');
  if (declared === '' && ctx.get('transfer-encoding') !== '') return new HttpError(411, 'invalid_request', 'Send the request body with a Content-Length.');
  if (Number(declared) > maxBytes) return new HttpError(413, 'invalid_request', `The request body is too large (at most ${maxBytes} bytes).`);
  if (isEncoded(ctx.get('content-encoding')) && Number(declared) > 0) return new HttpError(415, 'invalid_request', 'Send the request body uncompressed, without Content-Encoding.');
  return undefined;
}

/** Whether a Content-Encoding names a coding other than identity (RFC 9110 §8.4). */
function isEncoded(contentEncoding: string): boolean {
  return contentEncoding.split(',').some((coding) => !['', 'identity'].includes(coding.trim().toLowerCase()));
}

/** The content type of a form body, as a browser posts a form. */
export const FORM_TYPE = 'application/x-www-form-urlencoded';

/** JSON bodies: plain, or a JSON merge patch under its own type (RFC 7396), which the admin API's PATCH takes. */
export const JSON_TYPES = ['application/json', 'application/merge-patch+json'] as const;

/** The most the pages' forms and JSON bodies carry. */
const LIMIT_BYTES = 16 * 1024;

async function readText(ctx: Context, limitBytes = LIMIT_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw new HttpError(413, 'invalid_request', 'The request body is too large.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A form body's parameters as sent: in their order, a repeated one as often as it came (readBody
 * keeps one of each).
 */
export async function readForm(ctx: Context, limitBytes = LIMIT_BYTES): Promise<URLSearchParams> {
  return new URLSearchParams(await readText(ctx, limitBytes));
}

/** Bodies already read, by request: a stream is read once, and a guard may read it before the route does. */
const bodies = new WeakMap<Context, Promise<Record<string, unknown>>>();

/** A form or JSON body as a flat string map; forms and JSON are the only bodies the pages send. */
export function readBody(ctx: Context): Promise<Record<string, unknown>> {
  let body = bodies.get(ctx);
  if (!body) {
    body = parseBody(ctx);
    bodies.set(ctx, body);
  }
  return body;
}

async function parseBody(ctx: Context): Promise<Record<string, unknown>> {
  if (ctx.is(FORM_TYPE)) return Object.fromEntries(await readForm(ctx));
  if (ctx.is([...JSON_TYPES])) return parseJsonObject(await readText(ctx));
  if (!ctx.request.length) return {};
  throw new HttpError(415, 'invalid_request', 'Send the body as a form or as JSON.');
}

/**
 * A JSON body's object. A `__proto__` key, at any depth, is refused: JSON.parse keeps it as an
 * own field, but the first copy of the object by assignment (a merge, Object.assign) makes its
 * value the copy's prototype, whose fields every later check then reads as fields sent — the
 * admin API took `{"__proto__": {"resource_server": true}}` as resource_server. So is an object
 * nested more than MAX_JSON_DEPTH levels deep, which no body here needs: a few thousand levels,
 * well within the size limit, overflowed the stack of the JSON.parse reviver that looked for
 * `__proto__`, and were answered as a body that is no JSON object.
 */
function parseJsonObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Falls through to the same answer as any other unreadable body.
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'invalid_request', 'The request body is not a JSON object.');
  if (nestedDeeperThan(parsed, MAX_JSON_DEPTH)) throw new HttpError(400, 'invalid_request', `The request body's JSON is nested more than ${MAX_JSON_DEPTH} levels deep.`);
  if (holdsProtoKey(parsed)) throw new HttpError(400, 'invalid_request', 'The request body has a field named __proto__, which nothing here takes.');
  return parsed as Record<string, unknown>;
}

/** Whether `value` has a field named `__proto__` at any depth (only ever called within MAX_JSON_DEPTH). */
function holdsProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  return Object.hasOwn(value, '__proto__') || Object.values(value).some(holdsProtoKey);
}
