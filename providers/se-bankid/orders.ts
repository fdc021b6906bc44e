import type { EidOutcome, PollStatus } from '../../src/eids/plugin.js';
import type { Store } from '../../src/store/store.js';
import type { Requirement } from './api/types.js';

/** One login's BankID order, as every broker instance sees it. */
export interface OrderRecord {
  device: 'this' | 'other';
  acr: string;
  orderRef: string;
  autoStartToken: string;
  qrStartToken: string;
  /** Only ever used on the server, to compute QR codes. */
  qrStartSecret: string;
  /** When BankID created the current order (ms): QR time counts from here. */
  orderedAt: number;
  /** When the login's first order was created (ms): restarts count against allowed_polling_for_minutes. */
  firstOrderedAt: number;
  requirement: Requirement;
  /** Same device: the nonce in the returnUrl, checked when the app sends the person back. */
  returnNonce?: string;
  /** When BankID was last collected (ms); 0 before the first collect. */
  lastCollectAt: number;
  hintCode?: string;
  /** Set once the login has ended; every later poll answers the same. */
  final?: Pick<PollStatus, 'status' | 'hintCode' | 'messageCode'> & { outcome: EidOutcome };
}

/**
 * Orders in the store, by interaction: `<id>:order:<uid>` for the order, `<id>:poll:<uid>` for
 * the lock that lets one poll of an order run at a time, `<id>:evidence:<orderRef>` for the
 * signature and OCSP response of a completed one. Every key expires: an order whose browser
 * went away leaves nothing behind.
 */
export class OrderStore {
  constructor(
    private readonly store: Store,
    private readonly id: string,
    private readonly ttlSeconds: number,
    private readonly lockSeconds: number,
  ) {}

  async get(uid: string): Promise<OrderRecord | undefined> {
    const record = await this.store.get(`${this.id}:order:${uid}`);
    return record ? (JSON.parse(record.value) as OrderRecord) : undefined;
  }

  async save(uid: string, order: OrderRecord): Promise<void> {
    await this.store.set(`${this.id}:order:${uid}`, JSON.stringify(order), this.ttlSeconds);
  }

  async remove(uid: string): Promise<void> {
    await this.store.delete(`${this.id}:order:${uid}`);
  }

  /** True when this caller may poll the order now; false while another poll of it runs. */
  lock(uid: string): Promise<boolean> {
    return this.store.setIfAbsent(`${this.id}:poll:${uid}`, '1', this.lockSeconds);
  }

  async unlock(uid: string): Promise<void> {
    await this.store.delete(`${this.id}:poll:${uid}`);
  }

  async keepEvidence(orderRef: string, evidence: object, ttlSeconds: number): Promise<void> {
    await this.store.set(`${this.id}:evidence:${orderRef}`, JSON.stringify(evidence), ttlSeconds);
  }
}
