import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, TLSSocket } from 'node:tls';
import { z } from 'zod';
import { ConfigError, parseSection, projectRoot } from '../../src/eids/sdk.js';

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

const clientCertificate = z.union([
  z.object({ pfx: z.string().min(1), passphrase: z.string().optional() }).strict(),
  z.object({ cert: z.string().min(1), key: z.string().min(1), passphrase: z.string().optional() }).strict(),
]);

const schema = z
  .object({
    mode: z.enum(['production', 'test', 'custom', 'simulator']).default('production'),
    custom_url: z.url().optional(),
    client_certificate: clientCertificate.optional(),
    ca: z.string().min(1).optional(),
    poll_frequency: z.number().int().min(1).max(10).default(2),
    allowed_polling_for_minutes: z.number().positive().max(30).default(2),
    custom_identifier: z.string().max(100).optional(),
    requirement: requirement.default({}),
    return_risk: z.boolean().default(true),
    timeout_ms: z.number().int().positive().default(10_000),
    evidence_ttl: z.number().int().positive().default(90 * 24 * 3600),
    allow_simulator_in_production: z.boolean().default(false),
    simulator: z
      .object({
        /** Port of the simulated BankID app page and control API; 0 picks a free one. */
        control_port: z.number().int().min(0).max(65535).default(0),
        pickup_timeout_seconds: z.number().int().positive().default(30),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((c) => c.mode !== 'custom' || c.custom_url, { message: 'is required with mode custom', path: ['custom_url'] })
  .refine((c) => c.mode !== 'custom' || c.ca, { message: 'is required with mode custom', path: ['ca'] })
  .refine((c) => c.mode === 'simulator' || c.client_certificate, { message: 'is required unless mode is simulator', path: ['client_certificate'] });

export type BankIdSettings = z.output<typeof schema>;
export type BankIdRequirement = z.output<typeof requirement>;

const officialUrls = {
  production: 'https://appapi2.bankid.com/rp/v6.0',
  test: 'https://appapi2.test.bankid.com/rp/v6.0',
};
// BankID's public root CAs (SHA-256 fingerprints checked by a test), read from the source
// tree so the same files serve src/ and dist/.
const certsDir = join(projectRoot, 'providers', 'se-bankid', 'certs');
const builtInCas = {
  production: join(certsDir, 'production-root.pem'),
  test: join(certsDir, 'test-root.pem'),
};

/** Mutual TLS material for the RP API: the RP certificate and the one server CA to trust. */
export interface BankIdTls {
  ca: string;
  cert?: string;
  key?: string;
  pfx?: Buffer;
  passphrase?: string;
}

export function parseBankIdConfig(id: string, raw: unknown): BankIdSettings {
  return parseSection(schema, raw ?? {}, ['eids', id]);
}

function readFile(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The RP API URL and TLS material for production, test or custom mode, read and checked at start-up. */
export function resolveEndpoint(id: string, settings: BankIdSettings): { url: string; tls: BankIdTls } {
  const key = (name: string) => `eids.${id}.${name}`;
  const mode = settings.mode as 'production' | 'test' | 'custom';
  const url = mode === 'custom' ? settings.custom_url! : officialUrls[mode];
  const ca = settings.ca ? readFile(settings.ca, key('ca')) : readFileSync(builtInCas[mode as 'production' | 'test']);
  const certificate = settings.client_certificate!;
  const tls: BankIdTls =
    'pfx' in certificate
      ? { ca: ca.toString(), pfx: readFile(certificate.pfx, key('client_certificate.pfx')), passphrase: certificate.passphrase }
      : {
          ca: ca.toString(),
          cert: readFile(certificate.cert, key('client_certificate.cert')).toString(),
          key: readFile(certificate.key, key('client_certificate.key')).toString(),
          passphrase: certificate.passphrase,
        };
  try {
    // Fails now on a wrong passphrase or a legacy (RC2) PKCS#12 rather than at the first login.
    createSecureContext(tls);
  } catch (err) {
    throw new ConfigError(`${key('client_certificate')}: cannot be used (${(err as Error).message})`);
  }
  return { url: url.replace(/\/$/, ''), tls };
}

/** When the RP certificate expires: read through TLS itself, which opens PKCS#12 and PEM alike. */
export function certificateNotAfter(tls: BankIdTls): Date {
  const socket = new TLSSocket(null as never, { secureContext: createSecureContext(tls) });
  try {
    const certificate = socket.getCertificate();
    if (!certificate || !('valid_to' in certificate)) throw new Error('the RP certificate could not be read');
    return new Date(certificate.valid_to);
  } finally {
    socket.destroy();
  }
}
