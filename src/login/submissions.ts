import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { readBody } from '../http/body.js';
import { HttpError } from '../http/errors.js';
import { FORM_TOKEN_FIELD, type LocaleState } from '../http/views.js';

/**
 * A token per login for the broker's own HTML forms: a keyed hash of the interaction's uid, so
 * it costs no state, and only a page the broker served to this login can know it. The first
 * key makes tokens and every key checks them, so keys rotate as cookie keys do.
 */
export class FormTokens {
  readonly #keys: string[];

  constructor(keys: string[]) {
    this.#keys = keys;
  }

  issue(uid: string): string {
    return FormTokens.#mac(this.#keys[0]!, uid);
  }

  verifies(uid: string, token: unknown): boolean {
    if (typeof token !== 'string') return false;
    const given = Buffer.from(token);
    return this.#keys.some((key) => {
      const expected = Buffer.from(FormTokens.#mac(key, uid));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }

  static #mac(key: string, uid: string): string {
    return createHmac('sha256', key).update(`form-token\0${uid}`).digest('base64url');
  }
}


/**
 * What a request that changes a login must look like, besides coming from the login's own
 * browser (its SameSite cookie) and not from another origin. A cross-site page can post a form
 * but cannot send JSON without the broker's consent (CORS), which it never gives. So the JSON
 * API takes JSON only, and a form must carry the login's form token, which such a page cannot
 * read. That holds in browsers that send neither Fetch Metadata nor a usable Origin too.
 */
/** A request the guard lets through as it is: a read, or a JSON call. */
export const passesWithoutToken = (ctx: Context): boolean => ctx.method === 'GET' || ctx.method === 'HEAD' || Boolean(ctx.is('application/json'));

export function submissionGuard(tokens: FormTokens, uidOf: (ctx: Context) => string, accepts: 'json' | 'json-or-form'): Middleware {
  /** A form: it must carry the login's token. */
  async function checkedForm(ctx: Context, next: () => Promise<unknown>, uid: string): Promise<void> {
    // Also a POST with the JSON type and no body at all, which has no type to check: it is told to send {}.
    if (accepts === 'json') throw new HttpError(415, 'invalid_request', 'Send a JSON body, with Content-Type: application/json ({} when there is nothing to send).');
    if (!ctx.is('application/x-www-form-urlencoded')) throw new HttpError(415, 'invalid_request', 'Send the body as a form or as JSON.');
    const fields = await readBody(ctx);
    if (!tokens.verifies(uid, fields[FORM_TOKEN_FIELD])) {
      throw new HttpError(403, 'invalid_request', "The form did not come from this login's own page. Go back to the service and start again.");
    }
    await next();
  }

  // Not an async function: a JSON call (a waiting page's poll, every second) passes at the cost of the test.
  return (ctx, next) => {
    const uid = uidOf(ctx);
    // Made when a page with a form is rendered, not for every JSON call (a waiting page's poll).
    Object.defineProperty(ctx.state as LocaleState, 'formToken', { get: () => tokens.issue(uid), enumerable: true, configurable: true });
    if (passesWithoutToken(ctx)) return next();
    return checkedForm(ctx, next, uid);
  };
}
