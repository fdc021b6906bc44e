import type { Store } from '../store/store.js';
import type { AuditEvent } from './events.js';

/**
 * Where audit events go besides the log: a SIEM, a database, a message queue. A sink that fails
 * loses nothing the log does not still have; the failure is logged and counted
 * (neb_audit_sink_failures_total). Pass more sinks in BrokerOptions.auditSinks.
 */
export interface AuditSink {
  /** Names the sink in logs and metrics. */
  readonly name: string;
  write(event: AuditEvent): Promise<void>;
}

/**
 * The built-in sink: a Redis stream in the store (`audit.stream.key`, under the key prefix),
 * trimmed to about `audit.stream.max_length` events. Each entry has `event_id` and `event`
 * (the whole event as JSON), so `XRANGE` or a consumer group reads it.
 */
export function redisStreamSink(store: Store, key: string, maxLength: number): AuditSink {
  return {
    name: 'redis_stream',
    write: (event) => store.appendToStream(key, { event_id: event.event_id, event: JSON.stringify(event) }, maxLength),
  };
}
