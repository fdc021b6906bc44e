import { createHmac, randomUUID } from 'node:crypto';
import type { AuditEvent } from '../audit/events.js';
import type { AuditSink } from '../audit/sinks.js';
import type { BrokerConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import type { WebhookEndpoint, WebhookEndpoints } from './endpoints.js';
import { storeKey } from '../store/keys.js';
import { whileUnavailable } from '../store/retry.js';

/** The deliveries waiting for their next attempt, by when it is due. */
const WEBHOOK_QUEUE_KEY = storeKey('webhookQueue');

/** How often each instance looks for due deliveries. */
const POLL_INTERVAL_MS = 500;
/** Deliveries one look takes at most. */
const BATCH = 20;
/**
 * How often an instance that knows of no endpoint still looks: only deliveries left for an
 * endpoint deleted meanwhile can be queued then, and each look clears those that are due.
 */
const LEFTOVERS_INTERVAL_MS = 60_000;
/** How long a taken delivery is this instance's; one whose instance died is tried again after it. */
const LEASE_MS = 60_000;
/** How long a delivery record outlives its last possible attempt. */
const RECORD_MARGIN_SECONDS = 3600;
/**
 * How long the queueing of a delivery is tried while Redis is away (a dropped connection, a
 * failover): its event is emitted once, so a delivery not queued then is never sent. Reconnecting
 * takes a fraction of this; a graceful shutdown waits no longer for it.
 */
const QUEUE_TRIED_FOR_MS = 5_000;
/**
 * How long a count of the queue that showed room stands for it, with this instance's own
 * deliveries added since: a login's events are counted once a second, not each. What the other
 * instances queue meanwhile is not in it, so the queue can pass max_queued by at most what they
 * queue in that second; a count that shows the queue full is never trusted, but taken again.
 */
const ROOM_COUNT_TRUSTED_MS = 1_000;

/** The headers of a delivery (lowercase, as receivers' frameworks show them). */
export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
  event: 'webhook-event',
} as const;

/**
 * The signature of one attempt: HMAC-SHA256 with the endpoint's secret over
 * `<timestamp>.<body>`, hex, as `v1=<hex>`. The timestamp (Unix seconds) is the attempt's own, so
 * a receiver can refuse an old delivery replayed to it.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** One event on its way to one endpoint, as kept in the store between attempts. */
interface Delivery {
  endpoint: string;
  event: AuditEvent;
  attempts: number;
  /** Epoch milliseconds of the first attempt's due time, by the store's clock (the queue's, which every instance reads alike). */
  since: number;
}

type Outcome = 'delivered' | 'retried' | 'gave_up';

/** Whether an endpoint wants `event`. */
const wants = (event: AuditEvent) => (endpoint: WebhookEndpoint) => endpoint.events.includes(event.event);

/**
 * Webhook deliveries: an audit sink that queues each event for every endpoint that wants it,
 * and a worker on every instance that POSTs what is due. The queue is in the store (Redis), so
 * a restart loses nothing and any instance delivers; with the in-memory store it is in memory.
 * A failed attempt (no answer in time, or anything but 2xx) is retried after a wait that doubles
 * from `first_retry_seconds` up to `max_retry_interval_seconds`, with jitter, until
 * `retry_for_seconds` after the first attempt; then the delivery is given up, logged and counted.
 * Delivery is at least once: receivers deduplicate by the `webhook-id` header.
 *
 * Keys: `webhooks:queue` (a schedule of delivery ids) and `webhooks:delivery:<id>` (the delivery).
 */
export class WebhookDeliveries implements AuditSink {
  readonly name = 'webhooks';
  readonly #store: Store;
  readonly #endpoints: WebhookEndpoints;
  readonly #settings: BrokerConfig['webhooks'];
  readonly #metrics: Metrics;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** When this instance last looked at the queue (epoch ms); 0 makes the first tick look. */
  #lookedAt = 0;
  /** Whether this instance found the queue full at its last delivery: new ones are dropped. */
  #dropping = false;
  /** The queue's depth as last counted, with this instance's deliveries since, and when it was counted (epoch ms). */
  #depth = { queued: 0, countedAt: 0 };

  constructor(deps: { store: Store; endpoints: WebhookEndpoints; settings: BrokerConfig['webhooks']; metrics: Metrics; log: Logger }) {
    this.#store = deps.store;
    this.#endpoints = deps.endpoints;
    this.#settings = deps.settings;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
  }

  #key(id: string): string {
    return storeKey('webhookDelivery', id);
  }

  /**
   * Queues `event` for every endpoint that wants it (the audit sink's write). Nothing at all when
   * the endpoints held in memory show that none wants it, as for every token an app refreshes.
   */
  write(event: AuditEvent): Promise<void> | undefined {
    const wanting = this.#endpoints.currentAtOnce()?.filter(wants(event));
    if (wanting?.length === 0) return undefined;
    return this.#queue(event, wanting);
  }

  /** Queues `event` for `endpoints` (when not known yet, the current ones that want it), while the queue has room. */
  async #queue(event: AuditEvent, wanting: WebhookEndpoint[] | undefined): Promise<void> {
    const endpoints = wanting ?? (await this.#endpoints.current()).filter(wants(event));
    if (!endpoints.length || !(await this.#hasRoom(endpoints))) return;
    this.#depth.queued += endpoints.length;
    for (const endpoint of endpoints) {
      const id = randomUUID();
      const delivery: Delivery = { endpoint: endpoint.id, event, attempts: 0, since: this.#store.now() };
      // Both writes again, under the same id, when either met Redis away: each is idempotent.
      await whileUnavailable(async () => {
        await this.#store.set(this.#key(id), JSON.stringify(delivery), this.#settings.retry_for_seconds + RECORD_MARGIN_SECONDS);
        await this.#store.schedule(WEBHOOK_QUEUE_KEY, id, this.#store.now());
      }, QUEUE_TRIED_FOR_MS);
    }
    this.#poll();
  }

  /**
   * Whether the queue holds fewer than `max_queued` deliveries. Anyone can cause the events an
   * endpoint wants (start a login and cancel it), and while the endpoint is down each delivery
   * waits up to `retry_for_seconds`: unbounded, a stranger could fill Redis, and then every
   * login fails. A full queue drops new deliveries (counted); the event is still in the log and
   * the audit stream. The log says when dropping begins and ends, not once per event.
   */
  async #hasRoom(endpoints: WebhookEndpoint[]): Promise<boolean> {
    const room = (await this.#queuedNow()) < this.#settings.max_queued;
    if (room !== !this.#dropping) {
      this.#dropping = !room;
      if (room) this.#log.info('webhook queue has room again: deliveries are queued');
      else this.#log.warn({ max_queued: this.#settings.max_queued }, 'webhook queue full (webhooks.max_queued): new deliveries are dropped until it has room');
    }
    if (!room) for (const endpoint of endpoints) this.#metrics.webhookDeliveries.inc({ webhook: endpoint.id, result: 'dropped' });
    return room;
  }

  /** The queue's depth: the last count while it showed room and is recent (ROOM_COUNT_TRUSTED_MS), else a new count. */
  async #queuedNow(): Promise<number> {
    const { queued, countedAt } = this.#depth;
    if (queued < this.#settings.max_queued && Date.now() - countedAt < ROOM_COUNT_TRUSTED_MS) return queued;
    const counted = await whileUnavailable(() => this.queueDepth(), QUEUE_TRIED_FOR_MS);
    this.#depth = { queued: counted, countedAt: Date.now() };
    return counted;
  }

  /** Starts this instance's worker. */
  start(): void {
    this.#timer = setInterval(() => this.#poll(), POLL_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Stops the worker, after the attempts under way; what is left stays queued for the next start. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** The deliveries waiting, on every instance (neb_webhook_queue_depth). */
  queueDepth(): Promise<number> {
    return this.#store.countScheduled(WEBHOOK_QUEUE_KEY);
  }

  #poll(): void {
    if (this.#running || !this.#timer) return;
    this.#running = this.#deliverDue()
      .catch((err: unknown) => this.#log.warn({ reason: (err as Error).message }, 'webhook deliveries: the queue could not be read; trying again'))
      .finally(() => {
        this.#running = undefined;
      });
  }

  async #deliverDue(): Promise<void> {
    if (!(await this.#worthLooking())) return;
    this.#lookedAt = Date.now();
    for (let ids = await this.#take(); ids.length; ids = await this.#take()) {
      await Promise.all(ids.map((id) => this.#attempt(id)));
    }
  }

  /**
   * Whether the queue can hold anything to deliver. Every delivery names its endpoint, so while
   * there is none (the list every instance keeps: a change made on any instance is announced
   * and clears it, a lost announcement is made good within its trusted time) nothing queued can
   * be delivered, and the queue is left alone but for the leftovers' look now and then.
   */
  async #worthLooking(): Promise<boolean> {
    const endpoints = this.#endpoints.currentAtOnce() ?? (await this.#endpoints.current());
    return endpoints.length > 0 || Date.now() - this.#lookedAt >= LEFTOVERS_INTERVAL_MS;
  }

  #take(): Promise<string[]> {
    return this.#timer ? this.#store.takeDue(WEBHOOK_QUEUE_KEY, BATCH, LEASE_MS) : Promise.resolve([]);
  }

  async #attempt(id: string): Promise<void> {
    const record = await this.#store.get(this.#key(id));
    const delivery = record ? (JSON.parse(record.value) as Delivery) : undefined;
    const endpoint = delivery && (await this.#endpoints.find(delivery.endpoint));
    if (!delivery || !endpoint) {
      // Delivered or given up elsewhere, or its endpoint was deleted: nothing left to do.
      await this.#finish(id);
      return;
    }
    delivery.attempts += 1;
    const problem = await this.#post(endpoint, id, delivery.event);
    if (!problem) return this.#record(endpoint, id, 'delivered');
    const wait = this.#nextWait(delivery.attempts);
    if (this.#store.now() + wait > delivery.since + this.#settings.retry_for_seconds * 1000) {
      this.#log.warn({ webhook: endpoint.id, delivery: id, event_id: delivery.event.event_id, attempts: delivery.attempts, problem }, 'webhook delivery given up');
      return this.#record(endpoint, id, 'gave_up');
    }
    this.#log.info({ webhook: endpoint.id, delivery: id, attempts: delivery.attempts, problem, retry_in_ms: wait }, 'webhook delivery failed; it will be retried');
    await this.#store.set(this.#key(id), JSON.stringify(delivery), this.#settings.retry_for_seconds + RECORD_MARGIN_SECONDS);
    await this.#store.schedule(WEBHOOK_QUEUE_KEY, id, this.#store.now() + wait);
    this.#metrics.webhookDeliveries.inc({ webhook: endpoint.id, result: 'retried' });
  }

  async #record(endpoint: WebhookEndpoint, id: string, outcome: Exclude<Outcome, 'retried'>): Promise<void> {
    await this.#finish(id);
    this.#metrics.webhookDeliveries.inc({ webhook: endpoint.id, result: outcome });
  }

  async #finish(id: string): Promise<void> {
    await this.#store.unschedule(WEBHOOK_QUEUE_KEY, id);
    await this.#store.delete(this.#key(id));
  }

  /** The wait after the n-th failed attempt: doubling, capped, ±20 % jitter so retries spread out. */
  #nextWait(attempts: number): number {
    const { first_retry_seconds: first, max_retry_interval_seconds: max } = this.#settings;
    const seconds = Math.min(first * 2 ** (attempts - 1), max);
    return Math.round(seconds * 1000 * (0.8 + Math.random() * 0.4));
  }

  /** One POST; what went wrong, or undefined when the endpoint took it (2xx). */
  async #post(endpoint: WebhookEndpoint, id: string, event: AuditEvent): Promise<string | undefined> {
    const body = JSON.stringify(event);
    const timestamp = String(Math.floor(Date.now() / 1000));
    try {
      const response = await fetch(endpoint.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#settings.timeout_ms),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'nordic-eid-broker-webhooks',
          [WEBHOOK_HEADERS.id]: id,
          [WEBHOOK_HEADERS.timestamp]: timestamp,
          [WEBHOOK_HEADERS.signature]: webhookSignature(endpoint.secret, timestamp, body),
          [WEBHOOK_HEADERS.event]: event.event,
        },
        body,
      });
      await response.body?.cancel();
      return response.ok ? undefined : `HTTP ${response.status}`;
    } catch (err) {
      return (err as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable';
    }
  }
}
