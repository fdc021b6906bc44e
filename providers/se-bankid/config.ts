import { join } from 'node:path';
import { z } from 'zod';
import { checkSection, projectRoot, type SectionCheck } from '../../src/eids/sdk.js';
import { appPageSettings } from '../shared/app-page.js';
import type { MutualTls } from '../shared/mutual-tls.js';
import { checkRpApiSection, rpApiKeys, withRpApiRules, type RpApi } from '../shared/rp-api-config.js';

export { certificateNotAfter } from '../shared/mutual-tls.js';

/**
 * `eids.se-bankid`: the names are those users of other BankID authenticators know.
 *
 * - mode: production | test | custom | simulator. production and test select BankID's own
 *   URLs and server CAs; custom takes `custom_url` and `ca`; simulator starts the built-in
 *   simulator (refused in a production configuration unless `allow_simulator_in_production`).
 * - client_certificate: the RP certificate, `{pfx, passphrase}` (PKCS#12) or `{cert, key, passphrase?}` (PEM files).
 * - ca: PEM of the BankID server CA to pin (built in for production and test).
 * - poll_frequency: seconds between two collects of one order, however often browsers poll.
 * - allowed_polling_for_minutes: how long one login may wait for the person, restarts included.
 * - custom_identifier: tags every log line and event of this eID.
 * - requirement: pinCode, mrtd, cardReader, certificatePolicies — sent with every order.
 * - return_risk: ask BankID for its risk assessment; a login assessed as high risk is refused.
 * - timeout_ms: time limit of each call to BankID.
 * - pipeline_collects: send the collects of one tick pipelined (HTTP/1.1), up to 16 on a kept-alive
 *   connection, about 40 % less broker CPU per collect (BENCHMARKS.md). Only collects, which
 *   BankID may get twice, are pipelined. A front end that does not answer them (closes, or answers
 *   only the first) turns it off for the process by itself: the unanswered collects are sent once
 *   more, one at a time, and a warning is logged. `false` never pipelines.
 * - qr_size, show_qr_help: the page's QR code, its size in CSS pixels (160–480) and a line on how to scan it.
 * - evidence_ttl: seconds BankID's evidence of each login, signature and payment (signature, OCSP
 *   response, device, risk) is kept, encrypted, as audit evidence; the admin API serves it meanwhile.
 */
export const requirement = z
  .object({
    pinCode: z.boolean().optional(),
    mrtd: z.boolean().optional(),
    cardReader: z.enum(['class1', 'class2']).optional(),
    certificatePolicies: z.array(z.string().regex(/^[0-9*]+(\.[0-9*]+)*$/, 'must be policy OIDs')).min(1).optional(),
  })
  .strict();

const schema = withRpApiRules(
  z
    .object({
      ...rpApiKeys,
      poll_frequency: z.number().int().min(1).max(10).default(2),
      allowed_polling_for_minutes: z.number().positive().max(30).default(2),
      custom_identifier: z.string().max(100).optional(),
      requirement: requirement.default({}),
      return_risk: z.boolean().default(true),
      timeout_ms: z.number().int().positive().default(10_000),
      pipeline_collects: z.boolean().default(true),
      evidence_ttl: z.number().int().positive().default(90 * 24 * 3600),
      ...appPageSettings,
      simulator: z
        .object({
          /** Port of the simulated BankID app page and control API; 0 picks a free one. */
          control_port: z.number().int().min(0).max(65535).default(0),
          pickup_timeout_seconds: z.number().int().positive().default(30),
        })
        .strict()
        .prefault({}),
    })
    .strict(),
);

export type BankIdSettings = z.output<typeof schema>;
export type BankIdRequirement = z.output<typeof requirement>;

// BankID's public root CAs (SHA-256 fingerprints checked by a test), read from the source
// tree so the same files serve src/ and dist/.
const certsDir = join(projectRoot, 'providers', 'se-bankid', 'certs');
const official = {
  production: { url: 'https://appapi2.bankid.com/rp/v6.0', ca: join(certsDir, 'production-root.pem') },
  test: { url: 'https://appapi2.test.bankid.com/rp/v6.0', ca: join(certsDir, 'test-root.pem') },
};

/** Mutual TLS material for the RP API: the RP certificate and the one server CA to trust. */
export type BankIdTls = MutualTls;

/** The checked section: its values, and the RP API with the TLS material read (absent in simulator mode). */
export type BankIdSetup = BankIdSettings & { endpoint?: RpApi };

/** The section against its schema alone: its values, with the defaults, or every problem. */
export function checkBankIdSection(section: unknown): SectionCheck<BankIdSettings> {
  return checkSection(schema, section ?? {});
}

/** Checks `eids.<id>` (`section`) for a broker with `issuer`, reading the certificates it names: the setup, or every problem. */
export function checkBankIdConfig(section: unknown, issuer: string): SectionCheck<BankIdSetup> {
  // BankID reads no file beyond the RP API's.
  return checkRpApiSection(schema, section, official, issuer, () => ({}));
}
