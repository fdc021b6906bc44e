import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { HttpError } from '../http/errors.js';

const REALM = 'Bearer realm="nordic-eid-broker admin"';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The admin API's authentication: `Authorization: Bearer <admin.token>`. Both sides are hashed
 * before the comparison, so it takes the same time whatever the token sent, its length included.
 * A missing or wrong token is a 401 with `WWW-Authenticate: Bearer` (RFC 6750).
 */
export function bearerCheck(token: string): (ctx: Context) => void {
  const expected = digest(token);
  return (ctx) => {
    const sent = /^Bearer +([\x21-\x7e]+) *$/i.exec(ctx.get('authorization'))?.[1];
    if (sent === undefined) {
      ctx.set('WWW-Authenticate', REALM);
      throw new HttpError(401, 'invalid_token', 'The admin API needs the admin token: send Authorization: Bearer <token>.');
    }
    if (!timingSafeEqual(digest(sent), expected)) {
      ctx.set('WWW-Authenticate', `${REALM}, error="invalid_token"`);
      throw new HttpError(401, 'invalid_token', 'The admin token is not valid.');
    }
  };
}
