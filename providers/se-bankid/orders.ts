import type { Store } from '../../src/eids/sdk.js';
import type { BegunTransaction } from '../shared/begun-transactions.js';
import type { FinalRecord } from '../shared/endings.js';
import { LoginRecords } from '../shared/login-records.js';
import type { BankIdClient } from './api/client.js';
import type { Requirement } from './api/types.js';
import type { BankIdEvidence } from './evidence.js';

/** One login's BankID order, as every broker instance sees it. */
export interface OrderRecord {
  /** `phone`: an order of the phone API (a backchannel request), which has no start tokens (they are empty). */
  device: 'this' | 'other' | 'phone';
  acr: string;
  orderRef: string;
  autoStartToken: string;
  qrStartToken: string;
  /** Only ever used on the server, to compute QR codes. */
  qrStartSecret: string;
  /** When BankID created the current order (ms, by the store's clock: OrderStore.now): QR time counts from here. */
  orderedAt: number;
  /** When the login's first order was created (ms, by the store's clock): restarts count against allowed_polling_for_minutes. */
  firstOrderedAt: number;
  /** What the completed order must meet, the hinted person included; BankID is sent the person only for a proven hint. */
  requirement: Requirement;
  /** Same device: the nonce in the returnUrl, checked when the app sends the person back. */
  returnNonce?: string;
  hintCode?: string;
  /** Set once the login has ended; every later poll answers the same. */
  final?: FinalRecord;
}

/** What tells two versions of a login's order apart, for those who show it. */
export function orderVersion(order: OrderRecord | undefined): string {
  return order ? `${order.orderRef} ${order.hintCode ?? ''} ${order.final?.status ?? ''}` : '';
}

/** An order just made at BankID, for recordOrCancel: cancelled there when it cannot be stored. */
export function begunOrder(client: BankIdClient, orderRef: string): BegunTransaction {
  return { cancel: () => client.cancel(orderRef), logged: { orderRef } };
}

/**
 * Orders in the plugin's store, by interaction (the kit's per-login records: `order:<uid>`, the
 * collect lease `lease:<orderRef>`, changes announced on `orders`), and `evidence:<orderRef>`
 * for the signature and OCSP response of a completed one; the core puts them all under `<id>:`.
 */
export class OrderStore extends LoginRecords<OrderRecord> {
  constructor(store: Store, settings: { ttlSeconds: number; pollFrequencySeconds: number }) {
    super(store, 'order', { ...settings, versionOf: orderVersion });
  }

  async keepEvidence(orderRef: string, evidence: BankIdEvidence, ttlSeconds: number): Promise<void> {
    await this.store.set(`evidence:${orderRef}`, JSON.stringify(evidence), ttlSeconds);
  }

  /** The evidence of a completed order, while evidence_ttl keeps it. */
  async evidence(orderRef: string): Promise<BankIdEvidence | undefined> {
    const record = await this.store.get(`evidence:${orderRef}`);
    return record ? (JSON.parse(record.value) as BankIdEvidence) : undefined;
  }
}
