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

/** The cookie's value and signature as sent, and the set of pairs verified under the app's keys; undefined when either is missing. */
function sentPair(ctx: Context, name: string): { value: string; pair: string; pairs: Set<string> | undefined } | undefined {
  const value = ctx.cookies.get(name, { signed: false });
  const signature = value === undefined ? undefined : ctx.cookies.get(`${name}.sig`, { signed: false });
  if (value === undefined || !signature) return undefined;
  return { value, pair: `${name}=${value}.${signature}`, pairs: verifiedPairs(ctx) };
}

/**
 * A signed cookie's value, as `ctx.cookies.get(name, { signed: true })` reads it, remembering
 * which value and signature pairs verified: a waiting page sends the same pair once a second,
 * and each check would otherwise compute the HMAC again. A pair is remembered only once it
 * verified against the app's cookie keys, so a remembered pair verifies as it did; any other
 * pair is checked in full, with what a failed check does (the bad signature is cleared, one
 * made with an older key is made again with the current one).
 */
export function signedCookie(ctx: Context, name: string): string | undefined {
  const sent = sentPair(ctx, name);
  if (!sent) return undefined;
  const { value, pair, pairs } = sent;
  if (pairs?.has(pair)) return value;
  const verified = ctx.cookies.get(name, { signed: true });
  if (verified !== undefined && pairs) {
    if (pairs.size >= MAX_REMEMBERED) pairs.delete(pairs.values().next().value!);
    pairs.add(pair);
  }
  return verified;
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
