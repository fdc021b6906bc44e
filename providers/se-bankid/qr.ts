import { createHmac } from 'node:crypto';
import { qrSvg } from '../shared/qr-svg.js';

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
  #current = new Map<string, { payload: string; svg: string }>();
  #previous = new Map<string, { payload: string; svg: string }>();
  #turnAt = 0;

  svg(orderRef: string, payload: string): string {
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
