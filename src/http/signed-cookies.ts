import type { Context } from 'koa';

/** Pairs remembered per set of keys at most: a bound on memory however many browsers come, the oldest going first. */
const MAX_REMEMBERED = 50_000;

/** The value and signature pairs that verified, per app's cookie keys (tests run brokers with different keys in one process). */
const verifiedByKeys = new WeakMap<object, Set<string>>();

function verifiedPairs(ctx: Context): Set<string> | undefined {
  const keys = ctx.app.keys as object | undefined;
  if (!keys) return undefined;
  let pairs = verifiedByKeys.get(keys);
  if (!pairs) {
    pairs = new Set();
    verifiedByKeys.set(keys, pairs);
  }
  return pairs;
}

/**
 * The value of the first cookie called `name` in the request's Cookie header, quotes taken off:
 * what `ctx.cookies.get(name, { signed: false })` returns. The cookies package keeps a pattern
 * for every name it is asked for, for the life of the process, and a login's begun mark is named
 * by the login (`neb_begun_<uid>`): two patterns per login would be kept for ever. Read here,
 * a name leaves nothing behind; the header is split once per request.
 */
function sentCookie(ctx: Context, name: string): string | undefined {
  const header = ctx.get('cookie');
  if (!header) return undefined;
  let cookies = splitHeaders.get(ctx.req);
  if (cookies?.header !== header) {
    cookies = { header, values: valuesIn(header) };
    splitHeaders.set(ctx.req, cookies);
  }
  return cookies.values.get(name);
}

/** A request's Cookie header, split (sentCookie). */
const splitHeaders = new WeakMap<object, { header: string; values: Map<string, string> }>();

/** Each cookie of a Cookie header by name, the first of a name winning, as the cookies package reads them. */
function valuesIn(header: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const part of header.split(';')) {
    const pair = part.trimStart();
    const equals = pair.indexOf('=');
    if (equals < 0) continue;
    const name = pair.slice(0, equals);
    const value = pair.slice(equals + 1);
    if (!values.has(name)) values.set(name, value.startsWith('"') ? value.slice(1, -1) : value);
  }
  return values;
}

/** The cookie's value and signature as sent, and the set of pairs verified under the app's keys; undefined when either is missing. */
function sentPair(ctx: Context, name: string): { value: string; signature: string; pair: string; pairs: Set<string> | undefined } | undefined {
  const value = sentCookie(ctx, name);
  const signature = value === undefined ? undefined : sentCookie(ctx, `${name}.sig`);
  if (value === undefined || !signature) return undefined;
  return { value, signature, pair: `${name}=${value}.${signature}`, pairs: verifiedPairs(ctx) };
}

/** The signing keys of the request's cookies (Keygrip), which the cookies package keeps but does not declare. */
interface CookieKeys {
  index(data: string, digest: string): number;
  sign(data: string): string;
}

/**
 * Checks the signature of a cookie as `ctx.cookies.get(name, { signed: true })` does, without its
 * pattern per name (sentCookie): a bad signature is cleared; one made with an older key is made
 * again with the current one. Whether the value stands.
 */
function signatureHolds(ctx: Context, name: string, value: string, signature: string): boolean {
  const keys = (ctx.cookies as unknown as { keys?: CookieKeys }).keys;
  if (!keys) throw new Error('signed cookies need the app\'s keys');
  const data = `${name}=${value}`;
  const index = keys.index(data, signature);
  if (index < 0) ctx.cookies.set(`${name}.sig`, null, { path: '/', signed: false });
  else if (index > 0) ctx.cookies.set(`${name}.sig`, keys.sign(data), { signed: false });
  return index >= 0;
}

/**
 * A signed cookie's value, as `ctx.cookies.get(name, { signed: true })` reads it (without its
 * pattern per name, sentCookie), remembering
 * which value and signature pairs verified: a waiting page sends the same pair once a second,
 * and each check would otherwise compute the HMAC again. A pair is remembered only once it
 * verified against the app's cookie keys, so a remembered pair verifies as it did; any other
 * pair is checked in full, with what a failed check does (the bad signature is cleared, one
 * made with an older key is made again with the current one).
 */
export function signedCookie(ctx: Context, name: string): string | undefined {
  const sent = sentPair(ctx, name);
  if (!sent) return undefined;
  const { value, signature, pair, pairs } = sent;
  if (pairs?.has(pair)) return value;
  if (!signatureHolds(ctx, name, value, signature)) return undefined;
  if (pairs) {
    if (pairs.size >= MAX_REMEMBERED) pairs.delete(pairs.values().next().value!);
    pairs.add(pair);
  }
  return value;
}

/**
 * A signed cookie's value when its value and signature pair already verified here (see
 * signedCookie), else undefined: it computes nothing and writes no cookie, so a caller can ask
 * before it decides how to serve a request.
 */
export function knownSignedCookie(ctx: Context, name: string): string | undefined {
  const sent = sentPair(ctx, name);
  return sent?.pairs?.has(sent.pair) ? sent.value : undefined;
}
