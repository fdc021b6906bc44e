import type { BrokerConfig } from '../config/schema.js';
import { CertificateWatch } from '../health/certificates.js';
import type { Logger } from '../log.js';
import { circuitStateValues, type CircuitStateName, type Metrics } from '../metrics/metrics.js';
import { CircuitOpenError, UpstreamCircuit } from '../resilience/circuit-breaker.js';
import { StoreUnavailableError } from '../store/store.js';
import type { EidPlugin, EidTelemetry, RunOptions } from './plugin.js';
import type { EidRegistry } from './registry.js';

/** By default every error of an upstream call is the upstream failing. */
const defaultClassify = () => ({ reason: 'error', upstreamFailure: true });

/** What operators see of one eID: its circuit and whether it takes logins. */
export interface EidHealth {
  available: boolean;
  circuit: CircuitStateName;
}

/**
 * The operational side of every eID: its metrics (neb_eid_*), the circuit breaker around its
 * upstream, its certificates' expiry. Plugins see it as their `telemetry`; the circuit drives
 * the registry's availability, which the picker, /api/status and eID starts read.
 */
export class EidOperations {
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #settings: BrokerConfig['circuit_breaker'];
  readonly #circuits = new Map<string, UpstreamCircuit>();
  readonly certificates: CertificateWatch;
  #registry: EidRegistry | undefined;
  /** Availability decided before the registry existed (the plugin's own start-up). */
  readonly #early = new Map<string, boolean>();

  constructor(deps: { metrics: Metrics; log: Logger; settings: BrokerConfig['circuit_breaker'] }) {
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#settings = deps.settings;
    this.certificates = new CertificateWatch(deps.metrics, deps.log);
  }

  /** The telemetry handed to the plugin `eid` when it is created. */
  telemetryFor(eid: string, log: Logger): EidTelemetry {
    const { eidInFlight, eidSuccesses, eidFailures, eidDuration, circuitState, circuitOpenings, eidAvailable } = this.#metrics;
    const circuit = new UpstreamCircuit(eid, this.#settings, log, {
      changed: (state, available) => {
        circuitState.set({ eid }, circuitStateValues[state]);
        if (state === 'open') circuitOpenings.inc({ eid });
        eidAvailable.set({ eid }, available ? 1 : 0);
        if (this.#registry) this.#registry.setAvailable(eid, available);
        else this.#early.set(eid, available);
      },
    });
    this.#circuits.set(eid, circuit);

    return {
      run: async <T>(operation: string, work: () => Promise<T>, options: RunOptions<T> = {}): Promise<T> => {
        const labels = { eid, operation };
        const classify = options.classify ?? defaultClassify;
        eidInFlight.inc(labels);
        const stopTimer = eidDuration.startTimer(labels);
        try {
          const result = options.upstream === false ? await work() : await circuit.execute(work, (err) => !(err instanceof StoreUnavailableError) && classify(err).upstreamFailure);
          const failure = options.failureOf?.(result);
          if (failure) eidFailures.inc({ ...labels, reason: failure });
          else eidSuccesses.inc(labels);
          return result;
        } catch (err) {
          const reason = err instanceof CircuitOpenError ? 'circuit_open' : err instanceof StoreUnavailableError ? 'store_unavailable' : classify(err).reason;
          eidFailures.inc({ ...labels, reason });
          throw err;
        } finally {
          stopTimer();
          eidInFlight.dec(labels);
        }
      },
      certificate: (name, notAfter) => this.certificates.report(eid, name, notAfter),
    };
  }

  /** Connects the circuits to the registry and to each plugin's probe, once the plugins exist. */
  attach(registry: EidRegistry): void {
    this.#registry = registry;
    for (const [eid, available] of this.#early) registry.setAvailable(eid, available);
    for (const plugin of registry.all) {
      const circuit = this.#circuits.get(plugin.id);
      if (circuit && plugin.probe) circuit.useProbe(() => plugin.probe!());
    }
  }

  /** Each eID's availability and circuit state, for /health/ready. */
  health(plugins: EidPlugin[]): Record<string, EidHealth> {
    return Object.fromEntries(
      plugins.map((plugin) => [
        plugin.id,
        { available: this.#registry?.isAvailable(plugin.id) ?? true, circuit: this.#circuits.get(plugin.id)?.state ?? 'closed' },
      ]),
    );
  }

  close(): void {
    for (const circuit of this.#circuits.values()) circuit.close();
    this.certificates.close();
    this.#log.debug('eID operations stopped');
  }
}
