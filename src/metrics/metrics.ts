import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Round trips to an eID's upstream: from tens of milliseconds to its time limit. */
const UPSTREAM_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Redis commands: well under a millisecond to the command timeout. */
const REDIS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** How often Node's event-loop lag histogram (nodejs_eventloop_lag_*) samples the loop, in ms. */
const EVENT_LOOP_LAG_SAMPLE_MS = 20;

/** The numbers a circuit's state is reported as, in neb_eid_circuit_state. */
export const circuitStateValues = { closed: 0, open: 1, half_open: 2 } as const;
export type CircuitStateName = keyof typeof circuitStateValues;

/** What some gauges read at scrape time. */
export interface ScrapeSources {
  storeAvailable(): boolean;
  activeInteractions(): Promise<number>;
  webhookQueueDepth(): Promise<number>;
}

/**
 * One operation of an eID, counted in plain fields by the code that runs it and read at scrape
 * time: cheaper than a labelled prom-client update (which hashes its labels) on every call, for
 * calls as frequent as BankID's collects.
 */
export interface EidCallCounts {
  readonly labels: { readonly eid: string; readonly operation: string };
  inFlight: number;
  successes: number;
}

/**
 * The broker's Prometheus metrics, on a registry of its own (so several brokers in one process
 * keep theirs apart). Labels are bounded: eID ids, operation names and reasons the code names,
 * grant types — never client ids, which anyone may register, nor anything a request chooses.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #eidCalls: EidCallCounts[] = [];

  /** Calls to an eID (its upstream, or one of its steps) that have not answered yet: from the counts at scrape time. */
  readonly eidInFlight = new Gauge({
    name: 'neb_eid_requests_in_flight',
    help: 'Operations of an eID (calls to its upstream, callbacks) waiting for an answer',
    labelNames: ['eid', 'operation'] as const,
    registers: [this.registry],
    collect: () => {
      for (const counts of this.#eidCalls) this.eidInFlight.set(counts.labels, counts.inFlight);
    },
  });

  /** From the counts at scrape time: each total as it stands. */
  readonly eidSuccesses = new Counter({
    name: 'neb_eid_request_successes_total',
    help: 'Operations of an eID that succeeded',
    labelNames: ['eid', 'operation'] as const,
    registers: [this.registry],
    collect: () => {
      this.eidSuccesses.reset();
      for (const counts of this.#eidCalls) if (counts.successes) this.eidSuccesses.inc(counts.labels, counts.successes);
    },
  });

  readonly eidFailures = new Counter({
    name: 'neb_eid_request_failures_total',
    help: 'Operations of an eID that failed, by reason (unreachable, timeout, http_503, circuit_open, an eID error code…)',
    labelNames: ['eid', 'operation', 'reason'] as const,
    registers: [this.registry],
  });

  readonly eidDuration = new Histogram({
    name: 'neb_eid_request_duration_seconds',
    help: 'Round-trip time of operations of an eID',
    labelNames: ['eid', 'operation'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [this.registry],
  });

  readonly circuitState = new Gauge({
    name: 'neb_eid_circuit_state',
    help: "State of the circuit breaker around an eID's upstream: 0 closed, 1 open, 2 half-open (probing)",
    labelNames: ['eid'] as const,
    registers: [this.registry],
  });

  readonly circuitOpenings = new Counter({
    name: 'neb_eid_circuit_openings_total',
    help: "Times the circuit breaker around an eID's upstream opened",
    labelNames: ['eid'] as const,
    registers: [this.registry],
  });

  readonly eidAvailable = new Gauge({
    name: 'neb_eid_available',
    help: 'Whether an eID takes logins on this instance (1) or fails them fast (0)',
    labelNames: ['eid'] as const,
    registers: [this.registry],
  });

  readonly logins = new Counter({
    name: 'neb_eid_logins_total',
    help: 'Logins by eID, kind (authentication, signature, payment) and what happened to them: started, completed, failed, cancelled (the audit events)',
    labelNames: ['eid', 'kind', 'result'] as const,
    registers: [this.registry],
  });

  readonly loginFailures = new Counter({
    name: 'neb_eid_login_failures_total',
    help: 'Logins that ended without a person, by eID and the OIDC error the client got',
    labelNames: ['eid', 'error'] as const,
    registers: [this.registry],
  });

  readonly backchannelRequests = new Counter({
    name: 'neb_backchannel_requests_total',
    help: 'Backchannel (CIBA) requests by eID and operation (auth, sign), and what happened to them: started, refused, completed, failed, cancelled, expired',
    labelNames: ['eid', 'operation', 'result'] as const,
    registers: [this.registry],
  });

  readonly grantsIssued = new Counter({
    name: 'neb_oidc_grants_issued_total',
    help: 'Successful token endpoint grants, by grant type',
    labelNames: ['grant_type'] as const,
    registers: [this.registry],
  });

  #sources: ScrapeSources | undefined;

  readonly activeInteractions: Gauge = new Gauge({
    name: 'neb_oidc_active_interactions',
    help: 'Logins in progress: interactions started and neither finished nor expired (all instances)',
    registers: [this.registry],
    collect: async () => {
      if (!this.#sources) return;
      // A scrape while the store is down still answers; the count is then unknown.
      this.activeInteractions.set(await this.#sources.activeInteractions().catch(() => Number.NaN));
    },
  });

  readonly redisDuration = new Histogram({
    name: 'neb_redis_command_duration_seconds',
    help: 'Latency of the state store operations on Redis (one command or script each)',
    labelNames: ['operation'] as const,
    buckets: REDIS_BUCKETS,
    registers: [this.registry],
  });

  readonly redisFailures = new Counter({
    name: 'neb_redis_command_failures_total',
    help: 'State store operations on Redis that failed (unreachable, timed out, refused)',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  readonly storeAvailable: Gauge = new Gauge({
    name: 'neb_store_available',
    help: 'Whether the state store (Redis) takes commands (1) or not (0)',
    registers: [this.registry],
    collect: () => {
      if (this.#sources) this.storeAvailable.set(this.#sources.storeAvailable() ? 1 : 0);
    },
  });

  readonly certificateExpiry = new Gauge({
    name: 'neb_eid_certificate_expiry_timestamp_seconds',
    help: 'When a certificate an eID authenticates with expires (Unix time)',
    labelNames: ['eid', 'certificate'] as const,
    registers: [this.registry],
  });

  readonly certificateExpiresSoon = new Gauge({
    name: 'neb_eid_certificate_expires_soon',
    help: 'Whether a certificate an eID authenticates with expires within 30 days (1) or not (0)',
    labelNames: ['eid', 'certificate'] as const,
    registers: [this.registry],
  });

  readonly auditEvents = new Counter({
    name: 'neb_audit_events_total',
    help: 'Audit events written, by event id',
    labelNames: ['event_id'] as const,
    registers: [this.registry],
  });

  readonly auditSinkFailures = new Counter({
    name: 'neb_audit_sink_failures_total',
    help: 'Audit events a sink could not take (they are still in the log)',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'neb_webhook_deliveries_total',
    help: 'Webhook deliveries by endpoint id (set by the operator) and result: delivered, retried (failed, tried again later), gave_up, dropped (not queued: the queue held webhooks.max_queued)',
    labelNames: ['webhook', 'result'] as const,
    registers: [this.registry],
  });

  readonly webhookQueueDepth: Gauge = new Gauge({
    name: 'neb_webhook_queue_depth',
    help: 'Webhook deliveries waiting for their first attempt or a retry (all instances)',
    registers: [this.registry],
    collect: async () => {
      if (!this.#sources) return;
      this.webhookQueueDepth.set(await this.#sources.webhookQueueDepth().catch(() => Number.NaN));
    },
  });

  readonly rateLimited = new Counter({
    name: 'neb_rate_limited_total',
    help: 'Requests refused by a limit, by limit (auth, token, eid_start, …, event_streams, poll) and key (ip, client, login; person: CIBA requests for one person, answered 403 access_denied, all others 429)',
    labelNames: ['limit', 'by'] as const,
    registers: [this.registry],
  });

  readonly rateLimitFlushFailures = new Counter({
    name: 'neb_rate_limit_flush_failures_total',
    help: 'Sends of the rate-limit counts an instance held that failed (the store away or slow); they go with the next send',
    registers: [this.registry],
  });

  readonly pollsAnsweredDirectly = new Counter({
    name: 'neb_polls_answered_directly_total',
    help: "Waiting pages' polls this instance answered from its copies on Node's request, without the app's stack (the rest of the polls are among the app's requests)",
    registers: [this.registry],
  });

  readonly eventStreamsOpen = new Gauge({
    name: 'neb_event_streams_open',
    help: 'Event streams this instance holds for waiting logins (admitted, open or opening)',
    registers: [this.registry],
  });

  readonly requestsShed = new Counter({
    name: 'neb_requests_shed_total',
    help: 'Requests answered 503 busy at once because the event loop lagged past load_shedding.max_event_loop_delay_ms',
    registers: [this.registry],
  });

  constructor() {
    // Node's event-loop lag histogram samples on a timer of its own, every 10 ms by default: 100
    // wake-ups a second of an instance that has nothing to do. 20 ms is about the resolution load
    // shedding watches the loop at (EventLoopMonitor, 50 ms), far finer than any lag it acts on.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_LAG_SAMPLE_MS });
  }

  /** Values read when Prometheus scrapes, rather than kept up to date. */
  watch(sources: ScrapeSources): void {
    this.#sources = sources;
  }

  /**
   * Children of metrics with one label, each looked up once: updating by labels hashes them every
   * time, and these are updated on every store operation, grant and audit event.
   */
  readonly #storeDurations = childrenOf((operation) => this.redisDuration.labels(operation));
  readonly #grantCounts = childrenOf((grantType) => this.grantsIssued.labels(grantType));
  readonly #auditEventCounts = childrenOf((eventId) => this.auditEvents.labels(eventId));

  /** The command observer the Redis store reports each operation's latency to. */
  readonly observeStore = (operation: string, seconds: number, failed: boolean): void => {
    this.#storeDurations(operation).observe(seconds);
    if (failed) this.redisFailures.inc({ operation });
  };

  /** A grant issued at the token endpoint (neb_oidc_grants_issued_total). */
  countGrant(grantType: string): void {
    this.#grantCounts(grantType).inc();
  }

  /** An audit event written (neb_audit_events_total). */
  countAuditEvent(eventId: string): void {
    this.#auditEventCounts(eventId).inc();
  }

  /** New plain counts of one operation of an eID, reported from now on (see EidCallCounts). */
  eidCalls(eid: string, operation: string): EidCallCounts {
    const counts = { labels: { eid, operation }, inFlight: 0, successes: 0 };
    this.#eidCalls.push(counts);
    return counts;
  }

  /** The exposition, in Prometheus' text format. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A metric's child for each value of its one label, made at its first use and kept. */
function childrenOf<T>(make: (value: string) => T): (value: string) => T {
  const children = new Map<string, T>();
  return (value) => {
    let child = children.get(value);
    if (child === undefined) children.set(value, (child = make(value)));
    return child;
  };
}
