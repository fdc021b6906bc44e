import { randomUUID } from 'node:crypto';
import { whileUnavailable } from '../store/retry.js';
import type { Store } from '../store/store.js';
import type { AuditEvent } from './events.js';
import { outsideRequest } from '../http/request-scope.js';

/**
 * Where audit events go besides the log: a SIEM, a database, a message queue. A sink that fails
 * loses nothing the log does not still have; the failure is logged and counted
 * (neb_audit_sink_failures_total). Pass more sinks in BrokerOptions.auditSinks.
 */
export interface AuditSink {
  /** Names the sink in logs and metrics. */
  readonly name: string;
  /** Takes one event; resolves once it is delivered. Undefined when the sink has nothing to do for it. */
  write(event: AuditEvent): Promise<void> | undefined;
  /** Delivers at once what the sink holds back to deliver together (AuditLog.flush, shutdown). */
  flush?(): Promise<void>;
}

/** How long an event waits for others to be appended with it, and how many wait at most. */
const STREAM_BATCH = { waitMs: 50, maxEntries: 500 };
/**
 * How long a batch's append is tried while Redis is away: each event is emitted once, so a batch
 * not appended then is in the log alone. Reconnecting takes a fraction of this; a graceful
 * shutdown waits no longer for it.
 */
const APPEND_TRIED_FOR_MS = 5_000;

/**
 * The built-in sink: a Redis stream in the store (`audit.stream.key`, under the key prefix),
 * trimmed to about `audit.stream.max_length` events. Each entry has `event_id` and `event`
 * (the whole event as JSON), so `XRANGE` or a consumer group reads it.
 *
 * Events are appended in batches: those of up to STREAM_BATCH.waitMs (or the first
 * STREAM_BATCH.maxEntries of them) in one round trip, rather than one round trip for each token
 * request. A graceful shutdown flushes the batch; a process that crashes loses the events of its
 * last STREAM_BATCH.waitMs from the stream, not from the log, which has each at once. A batch
 * whose append met Redis away (a dropped connection, a failover) is appended again under its own
 * name for up to APPEND_TRIED_FOR_MS: the store appends a batch once, however often it is sent.
 */
export function redisStreamSink(store: Store, key: string, maxLength: number): AuditSink {
  return new BatchedStreamSink(store, key, maxLength);
}

/** The events waiting to be appended together, and the outcome their writers are given. */
interface Batch {
  entries: Array<Record<string, string>>;
  appended: Promise<void>;
  settle: (appending: Promise<void>) => void;
}

class BatchedStreamSink implements AuditSink {
  readonly name = 'redis_stream';
  readonly #store: Store;
  readonly #key: string;
  readonly #maxLength: number;
  #batch: Batch | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Store, key: string, maxLength: number) {
    this.#store = store;
    this.#key = key;
    this.#maxLength = maxLength;
  }

  write(event: AuditEvent): Promise<void> {
    const batch = this.#batch ?? this.#open();
    batch.entries.push({ event_id: event.event_id, event: JSON.stringify(event) });
    if (batch.entries.length >= STREAM_BATCH.maxEntries) void this.flush();
    return batch.appended;
  }

  flush(): Promise<void> {
    const batch = this.#batch;
    if (!batch) return Promise.resolve();
    clearTimeout(this.#timer);
    this.#batch = undefined;
    const name = randomUUID();
    batch.settle(whileUnavailable(() => this.#store.appendToStream(this.#key, batch.entries, this.#maxLength, name), APPEND_TRIED_FOR_MS));
    return batch.appended;
  }

  #open(): Batch {
    let settle!: Batch['settle'];
    const appended = new Promise<void>((resolve) => {
      settle = resolve;
    });
    this.#batch = { entries: [], appended, settle };
    // Unreferenced: a process that is ending anyway is not held open by it (shutdown flushes).
    this.#timer = outsideRequest(() => setTimeout(() => void this.flush(), STREAM_BATCH.waitMs)).unref();
    return this.#batch;
  }
}
