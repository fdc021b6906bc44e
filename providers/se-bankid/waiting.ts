import { GRID_MS, GridTicker, HttpError, traceScope, type Logger, type LoginRequest, type LoginWatcher, type TraceScope } from '../../src/eids/sdk.js';
import { ChangeSubscription } from '../shared/change-subscription.js';
import { CollectBatches } from './collect-batches.js';
import { showsQrCode, type BankIdLogin } from './flow.js';
import { orderVersion, type OrderRecord, type OrderStore } from './orders.js';
import { qrPayload } from './qr.js';

/**
 * The resolution of the schedule: a frame or a collect is due at most this late. The core's
 * grid, so that the tick and load shedding's watch wake the process together.
 */
const TICK_MS = GRID_MS;

/**
 * How long after its own lease an instance keeps retrying a collect every tick rather than
 * waiting a whole poll_frequency: its clock and Redis's differ by a little, and a lease asked
 * for a hair early must not halve the pace of collects.
 */
const LEASE_SKEW_MS = 100;

/**
 * How long after its own lease should have lapsed an instance asks for the next one. The lease
 * runs from when Redis set it, a little after the request for it left; asking right at
 * poll_frequency would often be refused and asked again every tick.
 */
const LEASE_MARGIN_MS = 50;

/**
 * Collects one instance runs at once. Pages that open together (a burst of people, or every
 * page of a stopped instance reconnecting here) make their orders due together: unbounded, that
 * opens a TLS connection to BankID per collect and starves the event loop. The rest queue, the
 * longest waiting first, and the next tick starts as many as have ended. That caps an instance
 * at 2,560 collects a second (an order every 2 s for about 5,000 orders), 128 per TICK_MS: past
 * that, collects come less often while the QR frames keep their second. Measured on 2 cores,
 * starting successors as soon as collects end instead made one instance with 10,000 orders
 * CPU-bound and late with its frames, and still collected each order only 0.5–0.7 times per
 * poll_frequency; a second instance collects at the full pace (BENCHMARKS.md).
 */
const MAX_COLLECTS_PER_SECOND = 2_560;
const MAX_COLLECTS_IN_FLIGHT = (MAX_COLLECTS_PER_SECOND * TICK_MS) / 1000;

/**
 * Collects due are started when this many are, or when the oldest has waited
 * COLLECT_BATCH_WAIT_MS (CollectBatches): with 1,000 orders a tick holds about 24, so they go in
 * batches of about 48 every second tick, rather than 24 every tick. A quarter of the cap, so that
 * with many orders every tick still starts its collects.
 */
const COLLECT_BATCH = 32;
const COLLECT_BATCH_WAIT_MS = 100;

/**
 * How long an instance keeps holding an order after the last poll of it, when no stream
 * watches it: a page polls about once a second, and an overloaded broker answers late, so that
 * its pages poll less often; held, their polls stay cheap.
 */
const POLL_HOLD_MS = 10_000;

/**
 * Items due at a time, in buckets of TICK_MS: scheduling and taking what is due cost the same
 * however many items wait, and everything due in one tick is handled together (which lets the
 * Redis client send the whole tick's commands in one write).
 */
class Schedule<T> {
  readonly #buckets = new Map<number, Set<T>>();
  readonly #bucketOf = new Map<T, number>();
  #taken = Math.floor(Date.now() / TICK_MS);

  /** Due at `at` (epoch ms) or in the next tick, whichever is later; replaces an earlier time. */
  add(item: T, at: number): void {
    this.remove(item);
    const bucket = Math.max(Math.ceil(at / TICK_MS), this.#taken + 1);
    let items = this.#buckets.get(bucket);
    if (!items) this.#buckets.set(bucket, (items = new Set()));
    items.add(item);
    this.#bucketOf.set(item, bucket);
  }

  remove(item: T): void {
    const bucket = this.#bucketOf.get(item);
    if (bucket === undefined) return;
    this.#bucketOf.delete(item);
    this.#buckets.get(bucket)?.delete(item);
  }

  /** Everything due by `now`, taken off the schedule. */
  take(now: number): T[] {
    const due: T[] = [];
    const last = Math.floor(now / TICK_MS);
    for (let bucket = this.#taken + 1; bucket <= last; bucket += 1) {
      for (const item of this.#buckets.get(bucket) ?? []) {
        this.#bucketOf.delete(item);
        due.push(item);
      }
      this.#buckets.delete(bucket);
    }
    this.#taken = Math.max(this.#taken, last);
    return due;
  }
}

/** One login's order that pages on this instance wait on, with the pages and what is due. */
class WaitingOrder {
  readonly watchers = new Map<LoginWatcher, LoginRequest>();
  /** The login of the latest poll, while pages poll the order here (see POLL_HOLD_MS). */
  poller: LoginRequest | undefined;
  /** When the latest poll came (ms): the order is held until POLL_HOLD_MS after it. */
  polledAt = 0;
  /** When this instance last took the order's collect lease (ms), 0 if never. */
  leasedAt = 0;
  collecting = false;
  /**
   * Set when announcements were lost while the store was away: the order is read again at its
   * next collect (and at each after, until a read succeeds), so that an order gone with a Redis
   * restarted empty ends its pages now, not when the person has approved in vain.
   */
  missed = false;
  /** Reads of the order from the store under way: a read begun later must follow their answers. */
  reads = 0;
  /** The traceId of the page that brought the order here: its collects, run by the shared ticker, log under it. */
  readonly underItsTrace: TraceScope = traceScope();

  constructor(
    readonly uid: string,
    public order: OrderRecord,
  ) {}

  /** Whether a page still waits on it here, on a stream or polling. */
  get held(): boolean {
    return this.watchers.size > 0 || this.poller !== undefined;
  }

  /** The login of one of its pages: all are the same person's, and a collect needs one. */
  get login(): LoginRequest {
    return this.watchers.values().next().value ?? this.poller!;
  }
}

export interface WaitingOrdersDependencies {
  login: BankIdLogin;
  orders: OrderStore;
  pollFrequencyMs: number;
  log: Logger;
}

/**
 * The orders that pages on this instance wait on, held in memory. Every second of an order a
 * QR frame goes to its pages, computed here without touching the store or the person's
 * cookie; every poll_frequency the order is collected by whichever instance takes its lease. A
 * change made anywhere (a collect, a cancel, a new start) is announced through the store and
 * reaches every instance's pages at once; a collect lease taken elsewhere also makes this
 * instance read the order again, so a lost announcement costs at most one poll_frequency.
 */
export class WaitingOrders {
  readonly #deps: WaitingOrdersDependencies;
  readonly #waiting = new Map<string, WaitingOrder>();
  readonly #frames = new Schedule<WaitingOrder>();
  readonly #collects = new Schedule<WaitingOrder>();
  /** When each polled order is let go unless polled again. */
  readonly #pollHolds = new Schedule<WaitingOrder>();
  readonly #ticker = new GridTicker(TICK_MS, () => this.#tick());
  #collectsInFlight = 0;
  readonly #collectsQueued = new CollectBatches<WaitingOrder>(COLLECT_BATCH, COLLECT_BATCH_WAIT_MS);
  readonly #changes: ChangeSubscription;

  constructor(deps: WaitingOrdersDependencies) {
    this.#deps = deps;
    this.#changes = new ChangeSubscription(
      (onChange, onMissed) => deps.orders.watchChanges(onChange, onMissed),
      (uid, version) => this.#changed(uid, version),
      // The store was away: an order may have changed, or be gone (Redis restarted empty), unannounced.
      () => {
        for (const waiting of this.#waiting.values()) waiting.missed = true;
      },
    );
  }

  /** Shows the login's order to `watcher` from now on; rejects with 409 when there is none. */
  async watch(login: LoginRequest, watcher: LoginWatcher): Promise<() => void> {
    await this.#changes.ready();
    let waiting = this.#waiting.get(login.uid);
    if (!waiting) {
      const order = await this.#deps.orders.get(login.uid);
      if (!order) throw new HttpError(409, 'invalid_request', 'No BankID order has been started for this login yet.');
      waiting = this.#waiting.get(login.uid) ?? this.#add(login.uid, order);
    }
    const watched = waiting;
    watched.watchers.set(watcher, login);
    watcher.status(this.#deps.login.status(login, watched.order));
    if (showsQrCode(watched.order)) {
      const now = Date.now();
      this.#sendFrame(watched, now, [watcher]);
      this.#frames.add(watched, this.#nextFrameAt(watched.order, now));
    }
    return () => {
      watched.watchers.delete(watcher);
      if (!watched.held) this.#drop(watched);
    };
  }

  /**
   * The login's order for a poll. An order held here (a page watches or polls it on this
   * instance) comes from memory, kept current as for streams: the poll costs the store nothing,
   * and the order's collects run on the schedule, under its lease. The first poll of an order
   * not held here reads it, collects it when its lease is free, and holds it from then on,
   * until no poll has come for POLL_HOLD_MS.
   */
  async polled(login: LoginRequest): Promise<OrderRecord | undefined> {
    const held = this.#waiting.get(login.uid);
    if (held) {
      this.#holdForPolls(held, login);
      return held.order;
    }
    await this.#changes.ready();
    const stored = await this.#deps.orders.get(login.uid);
    if (!stored || stored.final) return stored;
    const { order, collected } = await this.#deps.login.collectIfDue(login, stored);
    if (!order) return undefined;
    const waiting = this.#waiting.get(login.uid) ?? this.#add(login.uid, order, collected ? Date.now() : 0);
    this.#holdForPolls(waiting, login);
    return waiting.order;
  }

  async close(): Promise<void> {
    this.#ticker.stop();
    await this.#changes.close();
  }

  /** `leasedAt`: when the caller took the order's lease and collected it, else 0. */
  #add(uid: string, order: OrderRecord, leasedAt = 0): WaitingOrder {
    const waiting = new WaitingOrder(uid, order);
    waiting.leasedAt = leasedAt;
    this.#waiting.set(uid, waiting);
    this.#plan(waiting, leasedAt ? this.#leaseLapses(waiting) : Date.now());
    this.#ticker.start();
    return waiting;
  }

  #drop(waiting: WaitingOrder): void {
    if (this.#waiting.get(waiting.uid) !== waiting) return;
    this.#waiting.delete(waiting.uid);
    this.#frames.remove(waiting);
    this.#collects.remove(waiting);
    this.#collectsQueued.delete(waiting);
    this.#pollHolds.remove(waiting);
    if (!this.#waiting.size) this.#ticker.stop();
  }

  /** Schedules the order's next frame and collect, or nothing once it has ended. */
  #plan(waiting: WaitingOrder, collectAt: number): void {
    const { order } = waiting;
    if (order.final) {
      this.#frames.remove(waiting);
      this.#collects.remove(waiting);
      return;
    }
    // Frames go to streams only: an order held only for polls has none to send (polls draw their own).
    if (showsQrCode(order) && waiting.watchers.size) this.#frames.add(waiting, this.#nextFrameAt(order, Date.now()));
    else this.#frames.remove(waiting);
    this.#collects.add(waiting, collectAt);
  }

  /**
   * Holds the order until POLL_HOLD_MS after this poll. A page polls once a second, so a poll
   * only notes its time: the hold is scheduled at the first poll and, each time it falls due,
   * moved on to POLL_HOLD_MS after the latest one (#tick), rather than moved at every poll.
   */
  #holdForPolls(waiting: WaitingOrder, login: LoginRequest): void {
    const scheduled = waiting.poller !== undefined;
    waiting.poller = login;
    waiting.polledAt = Date.now();
    if (!scheduled) this.#pollHolds.add(waiting, waiting.polledAt + POLL_HOLD_MS);
  }

  #tick(): void {
    const now = Date.now();
    for (const waiting of this.#pollHolds.take(now)) {
      const heldUntil = waiting.polledAt + POLL_HOLD_MS;
      if (heldUntil > now) {
        this.#pollHolds.add(waiting, heldUntil);
        continue;
      }
      waiting.poller = undefined;
      if (!waiting.held) this.#drop(waiting);
    }
    for (const waiting of this.#frames.take(now)) {
      // An order whose last stream has gone is left off the frames until a stream watches it again.
      if (!waiting.watchers.size) continue;
      this.#sendFrame(waiting, now, waiting.watchers.keys());
      this.#frames.add(waiting, this.#nextFrameAt(waiting.order, now));
    }
    for (const waiting of this.#collects.take(now)) this.#collectsQueued.add(waiting, now);
    this.#startQueuedCollects(now);
  }

  /**
   * Starts a batch of queued collects, up to the limit, all in one turn of the event loop, so
   * that their leases go to Redis in one command. Only the tick starts them: a collect that
   * ends leaves its place to a later tick's batch rather than to one lease of its own.
   */
  #startQueuedCollects(now: number): void {
    for (const waiting of this.#collectsQueued.take(now, MAX_COLLECTS_IN_FLIGHT - this.#collectsInFlight)) void waiting.underItsTrace(() => this.#collect(waiting));
  }

  #sendFrame(waiting: WaitingOrder, now: number, watchers: Iterable<LoginWatcher>): void {
    const { order } = waiting;
    const seconds = Math.floor((now - this.#orderedHere(order)) / 1000);
    const payload = qrPayload(order.qrStartToken, order.qrStartSecret, seconds);
    for (const watcher of watchers) watcher.frame(payload, seconds);
  }

  /** When the order's next QR frame is due (this host's epoch ms): the start of its next whole second. */
  #nextFrameAt(order: OrderRecord, now: number): number {
    const orderedAt = this.#orderedHere(order);
    return orderedAt + (Math.floor((now - orderedAt) / 1000) + 1) * 1000;
  }

  /**
   * When the order was made, by this host's clock, which the schedules here run on: the order
   * has it by the store's (OrderStore.now), and this host's clock may be seconds off another's,
   * whose QR code would then show a second BankID has not reached, or long passed.
   */
  #orderedHere(order: OrderRecord): number {
    return order.orderedAt - (this.#deps.orders.now() - Date.now());
  }

  /** When this instance's last lease of the order has surely lapsed in Redis. */
  #leaseLapses(waiting: WaitingOrder): number {
    return waiting.leasedAt + this.#deps.pollFrequencyMs + LEASE_MARGIN_MS;
  }

  async #collect(waiting: WaitingOrder): Promise<void> {
    if (waiting.collecting || !waiting.held) return;
    waiting.collecting = true;
    this.#collectsInFlight += 1;
    const { pollFrequencyMs, login, log } = this.#deps;
    const started = Date.now();
    let next = started + pollFrequencyMs;
    try {
      if (waiting.missed) await this.#readMissed(waiting);
      if (this.#waiting.get(waiting.uid) !== waiting) return;
      const result = await login.collectIfDue(waiting.login, waiting.order);
      if (result.collected) {
        waiting.leasedAt = started;
        this.#show(waiting, result.order);
      } else if (started - waiting.leasedAt < pollFrequencyMs + LEASE_SKEW_MS) {
        next = started + TICK_MS;
      } else {
        // Another instance (or a polling page) collected: its result is in the store.
        this.#show(waiting, await this.#read(waiting));
      }
    } catch (err) {
      log.warn({ err, orderRef: waiting.order.orderRef }, 'BankID collect for waiting pages failed; trying again');
    } finally {
      waiting.collecting = false;
      this.#collectsInFlight -= 1;
    }
    if (this.#waiting.get(waiting.uid) === waiting && !waiting.order.final) this.#collects.add(waiting, Math.max(next, this.#leaseLapses(waiting)));
  }

  /**
   * An announced change: the order as the store has it now. Not read again when this instance
   * shows that version already (its own collect wrote it) — unless a read of the order is under
   * way, whose earlier answer could put back an older order: then the new read, answered after
   * it on the same connection, sets it right, as every announcement did before.
   */
  #changed(uid: string, version: string | undefined): void {
    const waiting = this.#waiting.get(uid);
    if (!waiting || (version === orderVersion(waiting.order) && waiting.reads === 0)) return;
    void this.#reread(waiting);
  }

  async #readMissed(waiting: WaitingOrder): Promise<void> {
    const stored = await this.#read(waiting);
    waiting.missed = false;
    this.#show(waiting, stored);
    if (!stored) await this.#deps.login.stopLost(waiting.order);
  }

  async #reread(waiting: WaitingOrder): Promise<void> {
    try {
      this.#show(waiting, await this.#read(waiting));
    } catch (err) {
      this.#deps.log.warn({ err }, 'a changed BankID order could not be read; its next collect will');
    }
  }

  async #read(waiting: WaitingOrder): Promise<OrderRecord | undefined> {
    waiting.reads += 1;
    try {
      return await this.#deps.orders.get(waiting.uid);
    } finally {
      waiting.reads -= 1;
    }
  }

  /** Shows a changed order to the pages; an order gone (cancelled) ends their streams. */
  #show(waiting: WaitingOrder, order: OrderRecord | undefined): void {
    if (this.#waiting.get(waiting.uid) !== waiting) return;
    if (!order) {
      this.#drop(waiting);
      for (const watcher of waiting.watchers.keys()) watcher.end();
      return;
    }
    if (orderVersion(order) === orderVersion(waiting.order)) return;
    waiting.order = order;
    this.#plan(waiting, Math.max(Date.now(), this.#leaseLapses(waiting)));
    for (const [watcher, login] of waiting.watchers) watcher.status(this.#deps.login.status(login, order));
    if (showsQrCode(order)) this.#sendFrame(waiting, Date.now(), waiting.watchers.keys());
  }
}

