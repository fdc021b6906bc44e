import type { Context } from 'koa';
import type { EidPlugin } from '../eids/plugin.js';
import { plainMessages } from '../config/issues.js';
import { HttpError } from '../http/errors.js';
import { signedCookie } from '../http/signed-cookies.js';
import { siteCookieName } from '../http/site-cookies.js';

/**
 * What eIDs ask browsers to remember for the session (`EidPlugin.startInput.remember`): one
 * cookie, signed so that another site cannot plant a choice, holding each eID's fields under its
 * id. Values are short strings; anything else is dropped.
 */
const REMEMBERED_COOKIE = 'neb_remembered';
/** Bounds on what one browser's cookie holds, whatever an eID declares. */
const MAX_VALUE_LENGTH = 100;
const MAX_COOKIE_LENGTH = 1000;

type Remembered = Record<string, Record<string, string>>;

function readCookie(ctx: Context): Remembered {
  const raw = signedCookie(ctx, siteCookieName(ctx, REMEMBERED_COOKIE));
  if (!raw) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Remembered) : {};
  } catch {
    return {};
  }
}

/**
 * The fields of POST start that `plugin` declares, checked against its schema (400 naming the
 * first field that does not fit); an eID that declares none gets none.
 */
export function startInputOf(plugin: EidPlugin, body: Record<string, unknown>): Record<string, unknown> {
  if (!plugin.startInput) return {};
  const fields = Object.fromEntries(Object.entries(body).filter(([name]) => name !== 'eid'));
  const result = plugin.startInput.fields.safeParse(fields, { error: plainMessages });
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  const field = issue?.path.join('.') || 'body';
  throw new HttpError(400, 'invalid_request', `${field}: ${issue?.message ?? 'not valid'}`);
}

/** Keeps the fields of `input` that `plugin` asks to remember, for this browser session. */
export function rememberInput(ctx: Context, plugin: EidPlugin, input: Record<string, unknown>): void {
  const names = plugin.startInput?.remember ?? [];
  const kept = Object.fromEntries(
    names.flatMap((name) => {
      const value = input[name];
      return typeof value === 'string' && value.length <= MAX_VALUE_LENGTH ? [[name, value]] : [];
    }),
  );
  if (!Object.keys(kept).length) return;
  const all = readCookie(ctx);
  all[plugin.id] = { ...all[plugin.id], ...kept };
  const value = Buffer.from(JSON.stringify(all)).toString('base64url');
  if (value.length > MAX_COOKIE_LENGTH) return;
  ctx.cookies.set(siteCookieName(ctx, REMEMBERED_COOKIE), value, { httpOnly: true, sameSite: 'lax', signed: true, overwrite: true });
}

/** What this browser chose at earlier starts of `plugin`, still fitting its schema; undefined when nothing. */
export function rememberedFor(ctx: Context, plugin: EidPlugin): Record<string, unknown> | undefined {
  const names = plugin.startInput?.remember;
  const stored = names ? readCookie(ctx)[plugin.id] : undefined;
  if (!names || !stored || typeof stored !== 'object') return undefined;
  const picked = Object.fromEntries(names.flatMap((name) => (typeof stored[name] === 'string' ? [[name, stored[name]]] : [])));
  const result = plugin.startInput!.fields.safeParse(picked);
  if (!result.success) return undefined;
  const known = Object.fromEntries(Object.entries(result.data).filter(([name, value]) => names.includes(name) && value !== undefined));
  return Object.keys(known).length ? known : undefined;
}
