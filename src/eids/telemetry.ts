import type { BrokerConfig } from '../config/schema.js';
import { CertificateWatch } from '../health/certificates.js';
import type { Logger } from '../log.js';
import { circuitStateValues, type CircuitStateName, type EidCallCounts, type Metrics } from '../metrics/metrics.js';
import { CircuitOpenError, UpstreamCircuit } from '../resilience/circuit-breaker.js';
import { StoreUnavailableError } from '../store/store.js';
import type { EidPlugin, EidTelemetry, RunOptions } from './plugin.js';

/** By default every error of an upstream call is the upstream failing. */
const defaultClassify = () => ({ reason: 'error', upstreamFailure: true });

/** One operation's metrics, looked up once: its plain counts and its duration histogram. */
interface OperationMetrics {
  counts: EidCallCounts;
  duration: { observe(seconds: number): void };
}

/** What operators see of one eID: its circuit and whether it takes logins. */
export interface EidHealth {
  available: boolean;
  circuit: CircuitStateName;
}

/**
 * The operational side of every eID: its metrics (neb_eid_*), the circuit breaker around its
 * upstream, its certificates' expiry, and — the one place it is kept — whether it can take
 * logins now, which its circuit decides and the picker, /api/status and eID starts read
 * (through the registry). Plugins see it as their `telemetry`.
 */
export class EidOperations {
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #settings: BrokerConfig['circuit_breaker'];
  readonly #circuits = new Map<string, UpstreamCircuit>();
  readonly certificates: CertificateWatch;
  /** The eIDs whose circuit is open: they cannot take logins now. */
  readonly #unavailable = new Set<string>();

  constructor(deps: { metrics: Metrics; log: Logger; settings: BrokerConfig['circuit_breaker'] }) {
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#settings = deps.settings;
    this.certificates = new CertificateWatch(deps.metrics, deps.log);
  }

  /** The telemetry handed to the plugin `eid` when it is created. */
  telemetryFor(eid: string, log: Logger): EidTelemetry {
    const metrics = this.#metrics;
    const { eidFailures, eidDuration, circuitState, circuitOpenings, eidAvailable } = metrics;
    const circuit = new UpstreamCircuit(eid, this.#settings, log, {
      changed: (state, available) => {
        circuitState.set({ eid }, circuitStateValues[state]);
        if (state === 'open') circuitOpenings.inc({ eid });
        eidAvailable.set({ eid }, available ? 1 : 0);
        this.setAvailable(eid, available);
      },
    });
    this.#circuits.set(eid, circuit);
    const byOperation = new Map<string, OperationMetrics>();
    const metricsOf = (operation: string): OperationMetrics => {
      let found = byOperation.get(operation);
      if (!found) byOperation.set(operation, (found = { counts: metrics.eidCalls(eid, operation), duration: eidDuration.labels(eid, operation) }));
      return found;
    };

    return {
      run: async <T>(operation: string, work: () => Promise<T>, options: RunOptions<T> = {}): Promise<T> => {
        const { counts, duration } = metricsOf(operation);
        const classify = options.classify ?? defaultClassify;
        counts.inFlight += 1;
        const started = performance.now();
        try {
          const result = options.upstream === false ? await work() : await circuit.execute(work, (err) => !(err instanceof StoreUnavailableError) && classify(err).upstreamFailure);
          const failure = options.failureOf?.(result);
          if (failure) eidFailures.inc({ ...counts.labels, reason: failure });
          else counts.successes += 1;
          return result;
        } catch (err) {
          const reason = err instanceof CircuitOpenError ? 'circuit_open' : err instanceof StoreUnavailableError ? 'store_unavailable' : classify(err).reason;
          eidFailures.inc({ ...counts.labels, reason });
          throw err;
        } finally {
          duration.observe((performance.now() - started) / 1000);
          counts.inFlight -= 1;
        }
      },
      certificate: (name, notAfter) => this.certificates.report(eid, name, notAfter),
    };
  }

  /** Whether an eID can take logins now: not while its circuit is open. */
  isAvailable(eid: string): boolean {
    return !this.#unavailable.has(eid);
  }

  /** Marks an eID up or down: its circuit does, as it opens and closes. */
  setAvailable(eid: string, available: boolean): void {
    if (available) this.#unavailable.delete(eid);
    else this.#unavailable.add(eid);
  }

  /** Lets each circuit ask its plugin's probe whether the upstream is back, once the plugins exist. */
  useProbes(plugins: readonly EidPlugin[]): void {
    for (const plugin of plugins) {
      const circuit = this.#circuits.get(plugin.id);
      if (circuit && plugin.probe) circuit.useProbe(() => plugin.probe!());
    }
  }

  /** Each eID's availability and circuit state, for /health/ready. */
  health(plugins: EidPlugin[]): Record<string, EidHealth> {
    return Object.fromEntries(
      plugins.map((plugin) => [
        plugin.id,
        { available: this.isAvailable(plugin.id), circuit: this.#circuits.get(plugin.id)?.state ?? 'closed' },
      ]),
    );
  }

  close(): void {
    for (const circuit of this.#circuits.values()) circuit.close();
    this.certificates.close();
    this.#log.debug('eID operations stopped');
  }
}
