/**
 * A production configuration is one that real people reach: NODE_ENV=production, or an https
 * issuer that is not on this machine. Simulators approve anyone and generated keys are not
 * managed, so neither belongs there.
 */
export function isProductionConfiguration(issuer: string): boolean {
  const { protocol, hostname } = new URL(issuer);
  return process.env.NODE_ENV === 'production' || (protocol === 'https:' && !isLocalHost(hostname));
}

/** Whether `hostname` (as URL.hostname gives it) names this machine. */
export function isLocalHost(hostname: string): boolean {
  return ['localhost', '127.0.0.1', '[::1]'].includes(hostname) || hostname.endsWith('.localhost');
}
