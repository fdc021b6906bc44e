import { createHmac } from 'node:crypto';

/**
 * The animated QR code's content for one second of an order: BankID's app checks the HMAC,
 * so a photo of the code goes stale within seconds. `seconds` is the whole seconds since the
 * order was created. The qrStartSecret is the HMAC key and never leaves the server.
 */
export function qrPayload(qrStartToken: string, qrStartSecret: string, seconds: number): string {
  const time = String(Math.max(0, Math.floor(seconds)));
  const authCode = createHmac('sha256', qrStartSecret).update(time).digest('hex');
  return `bankid.${qrStartToken}.${time}.${authCode}`;
}

/** Loaded at the first SVG (a login's start or a poll), so start-up does not wait for it; then kept. */
let encoder: Promise<typeof import('lean-qr')> | undefined;

/** Light modules around the code, as BankID's guidelines ask (at least one; two drawn). */
const MARGIN = 2;

/**
 * The payload as an SVG image, without inline style, so the page's CSP holds. It is drawn once
 * a second for every waiting login whose page polls, so it is made by lean-qr (the encoder the
 * pages themselves use, about three times faster than qrcode's) with the encoder's searches
 * skipped: one byte segment (the payload is ASCII; a shorter mix of modes makes the same size)
 * and one fixed mask pattern (any of the eight is valid; scoring all of them is most of the
 * work). The image is the one qrcode draws for the same choices, module for module and byte for
 * byte (test/units.test.ts): one path of horizontal runs of dark modules on a white square.
 */
export async function qrSvg(payload: string): Promise<string> {
  const { generate, correction, mode } = await (encoder ??= import('lean-qr'));
  const code = generate(mode.bytes(Buffer.from(payload)), { minCorrectionLevel: correction.L, maxCorrectionLevel: correction.L, mask: 2 });
  const side = code.size + 2 * MARGIN;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${side} ${side}" shape-rendering="crispEdges">` +
    `<path fill="#ffffff" d="M0 0h${side}v${side}H0z"/><path stroke="#000000" d="${darkRuns(code)}"/></svg>\n`
  );
}

/**
 * The dark modules as path commands, row by row: each run a horizontal stroke through the
 * middle of its row, the first of a row moved to absolutely and the others relative to the end
 * of the one before.
 */
function darkRuns(code: { size: number; get(x: number, y: number): boolean }): string {
  let path = '';
  for (let y = 0; y < code.size; y += 1) {
    let lastEnd = -1;
    let x = 0;
    while (x < code.size) {
      if (!code.get(x, y)) {
        x += 1;
        continue;
      }
      const start = x;
      while (x < code.size && code.get(x, y)) x += 1;
      path += lastEnd < 0 ? `M${start + MARGIN} ${y + MARGIN + 0.5}h${x - start}` : `m${start - lastEnd} 0h${x - start}`;
      lastEnd = x;
    }
  }
  return path;
}

/** How long one generation of kept images lasts: as long as a payload. */
const IMAGE_GENERATION_MS = 1_000;

/**
 * The latest QR image of each order, so that however many pages poll one order, its image is
 * drawn at most once a second (the payload changes every second). An image is kept for one to
 * two seconds, in two generations that take turns: memory follows the orders polled in the
 * last two seconds, not every order ever polled (an SVG is about 3 KB; 10,000 waiting logins
 * on the event stream, which never ask for one, held 30 MB of them when kept until displaced).
 */
export class QrImages {
  #current = new Map<string, { payload: string; svg: Promise<string> }>();
  #previous = new Map<string, { payload: string; svg: Promise<string> }>();
  #turnAt = 0;

  svg(orderRef: string, payload: string): Promise<string> {
    const now = Date.now();
    if (now >= this.#turnAt) {
      this.#previous = this.#current;
      this.#current = new Map();
      this.#turnAt = now + IMAGE_GENERATION_MS;
    }
    const kept = this.#current.get(orderRef) ?? this.#previous.get(orderRef);
    if (kept?.payload === payload) return kept.svg;
    const svg = qrSvg(payload);
    this.#current.set(orderRef, { payload, svg });
    return svg;
  }
}
