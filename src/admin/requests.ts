import type { Context } from 'koa';
import type { z } from 'zod';
import { ConfigError, parseSection } from '../config/load.js';
import { JSON_TYPES, readBody } from '../http/body.js';
import { HttpError } from '../http/errors.js';

/** The body types each method takes: JSON, and for PATCH, a JSON merge patch under its own type too (RFC 7396). */
const BODY_TYPES: Readonly<Record<string, readonly string[]>> = { PATCH: JSON_TYPES };
const JSON_ONLY: readonly string[] = [JSON_TYPES[0]];

/** The request's JSON body ({} when there is none); another content type is 415. */
export async function jsonBody(ctx: Context): Promise<Record<string, unknown>> {
  if (!ctx.request.length && !ctx.get('transfer-encoding')) return {};
  const types = BODY_TYPES[ctx.method] ?? JSON_ONLY;
  if (!ctx.is([...types])) throw new HttpError(415, 'invalid_request', `Send the body as JSON (Content-Type: ${types.join(' or ')}).`);
  return readBody(ctx);
}

/** `value` parsed with `schema`; a problem is 400 invalid_request naming the field. */
export function query<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  try {
    return parseSection(schema, value, [], 'parameter');
  } catch (err) {
    if (err instanceof ConfigError) throw new HttpError(400, 'invalid_request', err.message);
    throw err;
  }
}
