import { checkSection, projectRoot, readSettingFile, type ConfigIssue, type SectionCheck } from '../../src/eids/sdk.js';
import { join } from 'node:path';
import { z } from 'zod';
import { appPageSettings } from '../shared/app-page.js';
import { checkRpApiSection, rpApiKeys, withRpApiRules, type RpApi } from '../shared/rp-api-config.js';
import { SigningCertificates } from './api/jws.js';

/**
 * `eids.se-freja`: Freja eID through its Relying Party REST API.
 *
 * - mode: production | test | custom | simulator. production and test select Freja's own
 *   service URLs and server CAs; custom takes `custom_url` and `ca`; simulator starts the
 *   built-in simulator (refused in a production configuration unless `allow_simulator_in_production`).
 * - client_certificate: the RP certificate Freja issued, `{pfx, passphrase}` (PKCS#12) or `{cert, key, passphrase?}` (PEM files).
 * - ca: PEM of Freja's server CA to pin (built in for production and test).
 * - jws_certificates: PEM files of Freja's JWS signing certificates, which results are verified
 *   against (picked by their x5t). Several may be listed, for Freja's rotations.
 * - min_registration_level: EXTENDED or PLUS (Freja eID+); the name and personal number need at least EXTENDED.
 * - relying_party_id: only for integrators acting for another relying party.
 * - poll_frequency: seconds between two result requests of one login, however often browsers poll.
 * - allowed_seconds: how long one login may wait for the person before the broker gives up (Freja gives two minutes).
 * - custom_identifier: tags every log line and audit event of this eID.
 * - timeout_ms: time limit of each call to Freja.
 * - qr_size, show_qr_help: the page's QR code, its size in CSS pixels (160–480) and a line on how to scan it.
 */
const schema = withRpApiRules(
  z
    .object({
      ...rpApiKeys,
      jws_certificates: z.array(z.string().min(1)).min(1).optional(),
      min_registration_level: z.enum(['EXTENDED', 'PLUS']).default('EXTENDED'),
      relying_party_id: z.string().min(1).max(256).optional(),
      poll_frequency: z.number().int().min(1).max(10).default(2),
      allowed_seconds: z.number().int().min(10).max(600).default(130),
      custom_identifier: z.string().max(100).optional(),
      timeout_ms: z.number().int().positive().default(10_000),
      ...appPageSettings,
      simulator: z
        .object({
          /** Port of the simulated Freja app page and control API; 0 picks a free one. */
          control_port: z.number().int().min(0).max(65535).default(0),
          /** Seconds before a simulated transaction nobody finishes expires. */
          expiry_seconds: z.number().int().positive().default(120),
        })
        .strict()
        .prefault({}),
    })
    .strict(),
).refine((c) => c.mode === 'simulator' || c.jws_certificates, { message: 'is required unless mode is simulator', path: ['jws_certificates'] });

export type FrejaSettings = z.output<typeof schema>;

// Freja's public root CAs (SHA-256 fingerprints checked by a test), read from the source tree
// so the same files serve src/ and dist/.
const certsDir = join(projectRoot, 'providers', 'se-freja', 'certs');
const official = {
  production: { url: 'https://services.prod.frejaeid.com', ca: join(certsDir, 'production-root.pem') },
  test: { url: 'https://services.test.frejaeid.com', ca: join(certsDir, 'test-root.pem') },
};

/** The checked section: its values, and Freja's API with the TLS material and JWS certificates read (absent in simulator mode). */
export type FrejaSetup = FrejaSettings & { endpoint?: RpApi & { certificates: SigningCertificates } };

/** The section against its schema alone: its values, with the defaults, or every problem. */
export function checkFrejaSection(section: unknown): SectionCheck<FrejaSettings> {
  return checkSection(schema, section ?? {});
}

/** Checks `eids.<id>` (`section`) for a broker with `issuer`, reading the certificates it names: the setup, or every problem. */
export function checkFrejaConfig(section: unknown, issuer: string): SectionCheck<FrejaSetup> {
  return checkRpApiSection(schema, section, official, issuer, (settings, issues) => {
    const certificates = jwsCertificates(settings.jws_certificates!, issues);
    return certificates && { certificates };
  });
}

/** The certificates Freja's results are signed with, from the PEM files `jws_certificates` names; undefined with a problem. */
function jwsCertificates(files: readonly string[], issues: ConfigIssue[]): SigningCertificates | undefined {
  const found = issues.length;
  const pems = files.map((file, index) => readSettingFile(file, ['jws_certificates', index], issues)?.toString() ?? '');
  if (issues.length > found) return undefined;
  try {
    return new SigningCertificates(pems);
  } catch (err) {
    issues.push({ path: ['jws_certificates'], message: `not a PEM certificate (${(err as Error).message})` });
    return undefined;
  }
}
