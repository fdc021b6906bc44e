import { createTestPki as createUpstreamPki, type TestPki } from '../../shared/test-pki.js';

export { createUntrustedClientCertificate, type PemCredentials, type TestPki } from '../../shared/test-pki.js';

/** The simulated BankID's certificates. `clientValidityMs`: how long the RP certificate is valid. */
export function createTestPki(options: { clientValidityMs?: number } = {}): Promise<TestPki> {
  return createUpstreamPki({ upstream: 'BankID', ...options });
}
