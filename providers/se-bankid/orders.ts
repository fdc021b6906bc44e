import type { EidOutcome, PollStatus, Store } from '../../src/eids/sdk.js';
import type { Requirement } from './api/types.js';
import type { BankIdEvidence } from './evidence.js';

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
  hintCode?: string;
  /** Set once the login has ended; every later poll answers the same. */
  final?: Pick<PollStatus, 'status' | 'hintCode' | 'messageCode' | 'retry'> & { outcome: EidOutcome };
}

/** What tells two versions of a login's order apart, for those who show it. */
export function orderVersion(order: OrderRecord | undefined): string {
  return order ? `${order.orderRef} ${order.hintCode ?? ''} ${order.final?.status ?? ''}` : '';
}

export interface OrderStoreSettings {
  /** How long an order outlives its login's allowed time, in seconds. */
  ttlSeconds: number;
  /** poll_frequency: the lifetime of a collect lease. */
  pollFrequencySeconds: number;
}

/**
 * Orders in the store, by interaction: `<id>:order:<uid>` for the order, `<id>:lease:<orderRef>`
 * for the collect lease, `<id>:evidence:<orderRef>` for the signature and OCSP response of a
 * completed one. Every key expires: an order whose browser went away leaves nothing behind. A
 * change of a login's order is announced on the channel `<id>:orders`, for the instances whose
 * pages wait on it.
 */
export class OrderStore {
  constructor(
    private readonly store: Store,
    private readonly id: string,
    private readonly settings: OrderStoreSettings,
  ) {}

  async get(uid: string): Promise<OrderRecord | undefined> {
    const record = await this.store.get(`${this.id}:order:${uid}`);
    return record ? (JSON.parse(record.value) as OrderRecord) : undefined;
  }

  /** Saves a changed order and tells every instance. */
  async save(uid: string, order: OrderRecord): Promise<void> {
    await this.store.set(`${this.id}:order:${uid}`, JSON.stringify(order), this.settings.ttlSeconds);
    await this.#announce(uid);
  }

  /**
   * Makes `order` the login's order and returns the one it replaced, if any. Two starts of one
   * login racing each other both succeed here, and each learns which order it pushed out.
   */
  async replace(uid: string, order: OrderRecord): Promise<OrderRecord | undefined> {
    const earlier = await this.store.replace(`${this.id}:order:${uid}`, JSON.stringify(order), this.settings.ttlSeconds);
    await this.#announce(uid);
    return earlier === undefined ? undefined : (JSON.parse(earlier) as OrderRecord);
  }

  async remove(uid: string): Promise<void> {
    await this.store.delete(`${this.id}:order:${uid}`);
    await this.#announce(uid);
  }

  /**
   * True when the caller may collect the order now: no one, on any instance, has collected it
   * within poll_frequency. The lease is never released: it lapses after poll_frequency, which is
   * both the pace of collects and how soon a dead instance's lease stops counting.
   */
  lease(orderRef: string): Promise<boolean> {
    return this.store.setIfAbsent(`${this.id}:lease:${orderRef}`, '1', this.settings.pollFrequencySeconds);
  }

  /** Calls `onChange` with the uid of every login whose order changes, on any instance. */
  watchChanges(onChange: (uid: string) => void): Promise<() => Promise<void>> {
    return this.store.subscribe(`${this.id}:orders`, onChange);
  }

  async keepEvidence(orderRef: string, evidence: BankIdEvidence, ttlSeconds: number): Promise<void> {
    await this.store.set(`${this.id}:evidence:${orderRef}`, JSON.stringify(evidence), ttlSeconds);
  }

  /** The evidence of a completed order, while evidence_ttl keeps it. */
  async evidence(orderRef: string): Promise<BankIdEvidence | undefined> {
    const record = await this.store.get(`${this.id}:evidence:${orderRef}`);
    return record ? (JSON.parse(record.value) as BankIdEvidence) : undefined;
  }

  #announce(uid: string): Promise<void> {
    return this.store.publish(`${this.id}:orders`, uid);
  }
}
