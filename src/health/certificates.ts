import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';

const DAY_MS = 24 * 3600 * 1000;
/** A certificate this close to its end is warned about. */
export const EXPIRY_WARNING_DAYS = 30;

interface WatchedCertificate {
  eid: string;
  name: string;
  notAfter: Date;
}

/**
 * The expiry of the certificates eIDs authenticate with (BankID's RP certificate). Each one is
 * a metric (neb_eid_certificate_expiry_timestamp_seconds, neb_eid_certificate_expires_soon);
 * within 30 days of its end the broker warns in its log at start-up and then once a day, and
 * /health/ready lists it among its warnings.
 */
export class CertificateWatch {
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #certificates = new Map<string, WatchedCertificate>();
  readonly #timer: NodeJS.Timeout;

  constructor(metrics: Metrics, log: Logger) {
    this.#metrics = metrics;
    this.#log = log;
    this.#timer = setInterval(() => this.#check(), DAY_MS);
    this.#timer.unref();
  }

  report(eid: string, name: string, notAfter: Date): void {
    const certificate = { eid, name, notAfter };
    this.#certificates.set(`${eid}\0${name}`, certificate);
    this.#metrics.certificateExpiry.set({ eid, certificate: name }, Math.floor(notAfter.getTime() / 1000));
    this.#checkOne(certificate);
  }

  /** Plain-words warnings about certificates that expire within 30 days (or have expired). */
  warnings(now = Date.now()): string[] {
    return [...this.#certificates.values()]
      .filter(({ notAfter }) => notAfter.getTime() - now < EXPIRY_WARNING_DAYS * DAY_MS)
      .map(({ eid, name, notAfter }) =>
        notAfter.getTime() <= now ? `${eid}: the ${name} expired on ${notAfter.toISOString()}` : `${eid}: the ${name} expires on ${notAfter.toISOString()}`,
      );
  }

  #check(): void {
    for (const certificate of this.#certificates.values()) this.#checkOne(certificate);
  }

  #checkOne({ eid, name, notAfter }: WatchedCertificate): void {
    const left = notAfter.getTime() - Date.now();
    const soon = left < EXPIRY_WARNING_DAYS * DAY_MS;
    this.#metrics.certificateExpiresSoon.set({ eid, certificate: name }, soon ? 1 : 0);
    if (!soon) return;
    const days = Math.max(0, Math.floor(left / DAY_MS));
    this.#log.warn(
      { eid, certificate: name, not_after: notAfter.toISOString(), days_left: days },
      left <= 0 ? `${eid}: the ${name} has expired: renew it now` : `${eid}: the ${name} expires in ${days} days: renew it`,
    );
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
