import { createHmac } from 'node:crypto';
import { outsideRequest, withJson } from '../../src/eids/sdk.js';
import { qrSvg } from '../shared/qr-svg.js';
import type { OrderRecord } from './orders.js';

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

/** How long one generation of kept codes lasts: as long as a payload. */
const CODE_GENERATION_MS = 1_000;

/** One second's QR code of an order, as a poll answers it: its content and its image. */
export interface QrCode {
  readonly payload: string;
  readonly svg: string;
}

/**
 * The latest QR code of each order, so that however many pages poll one order, its payload's
 * HMAC and its image are made at most once a second (the payload changes every second). A code
 * is kept for one to two seconds, in two generations that take turns: memory follows the orders
 * polled in the last two seconds, not every order ever polled (an SVG is about 3 KB; 10,000
 * waiting logins on the event stream, which never ask for one, held 30 MB of them when kept
 * until displaced). When no code is asked for, both generations go two seconds after the last
 * turn: the codes of a burst of starts followed by pages on the event stream (about 1,000 of
 * them, 2.7 MB, when 10,000 logins began) are not kept until the next start.
 */
export class QrCodes {
  #current = new Map<string, { seconds: number; code: QrCode }>();
  #previous = new Map<string, { seconds: number; code: QrCode }>();
  #turnAt = 0;
  #forgetting: NodeJS.Timeout | undefined;

  /** The order's code at `now` (epoch ms). */
  of(order: Pick<OrderRecord, 'orderRef' | 'orderedAt' | 'qrStartToken' | 'qrStartSecret'>, now: number): QrCode {
    if (now >= this.#turnAt) this.#turn(now);
    const seconds = Math.max(0, Math.floor((now - order.orderedAt) / 1000));
    const kept = this.#current.get(order.orderRef) ?? this.#previous.get(order.orderRef);
    if (kept?.seconds === seconds) return kept.code;
    const payload = qrPayload(order.qrStartToken, order.qrStartSecret, seconds);
    const svg = qrSvg(payload);
    // The image needs no escaping in JSON (qrSvg), so the answer writes it as it is, not serialized again per poll.
    const code = withJson({ payload, svg }, ['{"payload":', JSON.stringify(payload), ',"svg":"', svg, '"}']);
    this.#current.set(order.orderRef, { seconds, code });
    return code;
  }

  #turn(now: number): void {
    this.#previous = this.#current;
    this.#current = new Map();
    this.#turnAt = now + CODE_GENERATION_MS;
    clearTimeout(this.#forgetting);
    // Outside the request that asked: the timer would otherwise keep it until it fires.
    this.#forgetting = outsideRequest(() => setTimeout(() => this.#forget(), 2 * CODE_GENERATION_MS).unref());
  }

  #forget(): void {
    this.#previous = new Map();
    this.#current = new Map();
    this.#turnAt = 0;
  }
}
