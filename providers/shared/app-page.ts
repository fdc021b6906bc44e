import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import type Router from '@koa/router';
import type { RouterContext } from '@koa/router';
import { z } from 'zod';
import { HttpError, pluginFolder, type EidPlugin, type LoginRequest, type LoginState, type StartOptions } from '../../src/eids/sdk.js';

/**
 * The waiting page of an eID used through its app (Swedish BankID, Freja eID): the person opens
 * the app on this device, or scans a QR code with it on another one, then waits while the page
 * follows the login. What the eIDs share of it lives here, and its script in static/app-page.mjs.
 */

/** Where the person uses the app: here (the app opens) or on another device (a QR code). */
export type Device = 'this' | 'other';

/** The page's config keys, in each such eID's `eids.<id>` section. */
export const appPageSettings = {
  /** Size of the QR code, in CSS pixels. */
  qr_size: z.number().int().min(160).max(480).default(240),
  /** A line on how to scan the QR code. */
  show_qr_help: z.boolean().default(true),
};

/** Phones and tablets use the app on themselves first; computers show the QR code first. */
const MOBILE = /iPhone|iPad|iPod|Android/i;

export function isMobile(userAgent: string): boolean {
  return MOBILE.test(userAgent);
}

/** POST start's `device`: the person's answer to the page's question, remembered for the browser session. */
const deviceField = z.object({ device: z.enum(['this', 'other']).optional() });

/** The device a start names, when the person answered the page's question. */
export function deviceInput(options: StartOptions): Device | undefined {
  return deviceField.safeParse(options.input ?? {}).data?.device;
}

/** The device an acr value fixes (`…:same-device`, `…:other-device`), if it does. */
export function deviceOfAcr(acrValues: { this: string; other: string }, acr: string | undefined): Device | undefined {
  if (acr === acrValues.this) return 'this';
  if (acr === acrValues.other) return 'other';
  return undefined;
}

/**
 * The device question's buttons, the first one highlighted: the device this browser chose at the
 * eID's last start in this session, else this device on a phone and the QR code on a computer.
 */
export function deviceChoices(request: LoginRequest, labels: Record<Device, string>): Array<{ device: Device; label: string; primary: boolean }> {
  const remembered = deviceField.safeParse(request.remembered ?? {}).data?.device;
  const first: Device = remembered ?? (isMobile(request.userAgent) ? 'this' : 'other');
  const second: Device = first === 'this' ? 'other' : 'this';
  return [
    { device: first, label: labels[first], primary: true },
    { device: second, label: labels[second], primary: false },
  ];
}

/**
 * Whether a return link's nonce is the login's, compared in constant time. Compared as bytes, and
 * the lengths too: a nonce of as many characters as the login's but more bytes (outside ASCII) is
 * another nonce, where comparing its bytes with the login's threw.
 */
function isNonce(given: string, expected: string | undefined): boolean {
  if (!expected) return false;
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The page at /interaction/<uid>/<id>/, and /return, where the app on this device sends the
 * person back: shown again only for the nonce of the login's transaction (`returnNonce`), so
 * that a return link proves it belongs to this login; another (an earlier try's, whose
 * transaction a new start replaced) is refused with `refusal`, on a page that says so and goes on
 * to the eID's page, where the login stands as it is: the login itself is still under way.
 */
export function appPageRoutes(
  router: Router<LoginState>,
  page: (ctx: RouterContext<LoginState>) => void,
  returnNonce: (request: LoginRequest) => Promise<string | undefined>,
  refusal: string,
): void {
  router.get('/', page);
  router.get('/return', async (ctx) => {
    const nonce = typeof ctx.query.nonce === 'string' ? ctx.query.nonce : '';
    if (!isNonce(nonce, await returnNonce(ctx.state.login.request))) {
      throw new HttpError(400, 'invalid_request', refusal, undefined, { during: 'app_return', goOn: ctx.path.replace(/return$/, '') });
    }
    page(ctx);
  });
}

/** The folder of the page script kit, served at /static/kit/app-page/. */
const kitFolder = join(pluginFolder(import.meta.url), 'static');

/**
 * The plugin fields of an app page eID: the page script kit, POST start's `device` (remembered),
 * and the QR code's settings for its page and for custom frontends (GET ui).
 */
export function appPagePlugin(settings: { qr_size: number; show_qr_help: boolean }): Pick<EidPlugin, 'staticKits' | 'startInput' | 'pageSettings'> {
  return {
    staticKits: { 'app-page': kitFolder },
    startInput: { fields: deviceField, remember: ['device'] },
    pageSettings: { qr_size: settings.qr_size, show_qr_help: settings.show_qr_help },
  };
}
