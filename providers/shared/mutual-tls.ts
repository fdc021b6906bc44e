import { readSettingFile, type ConfigIssue } from '../../src/eids/sdk.js';
import { readFileSync } from 'node:fs';
import { createSecureContext, TLSSocket } from 'node:tls';
import { z } from 'zod';

/**
 * Mutual TLS to an eID's API (Swedish BankID, Freja eID): the relying-party certificate the eID
 * issued and the one server CA to trust — never the system's CAs.
 */
export interface MutualTls {
  ca: string;
  cert?: string;
  key?: string;
  pfx?: Buffer;
  passphrase?: string;
}

/** `client_certificate`: `{pfx, passphrase}` (PKCS#12) or `{cert, key, passphrase?}` (PEM files). */
export const clientCertificate = z.union([
  z.object({ pfx: z.string().min(1), passphrase: z.string().optional() }).strict(),
  z.object({ cert: z.string().min(1), key: z.string().min(1), passphrase: z.string().optional() }).strict(),
]);

/**
 * The TLS material from `client_certificate` and the CA (the configured `ca` file, else
 * `builtInCa`), read and tried in the eID's check: a missing file, a wrong passphrase or a legacy
 * (RC2) PKCS#12 is a problem of the configuration, added to `issues`, rather than of the first login.
 */
export function readMutualTls(
  settings: { client_certificate: z.output<typeof clientCertificate>; ca?: string | undefined },
  builtInCa: string,
  issues: ConfigIssue[],
): MutualTls | undefined {
  const found = issues.length;
  const ca = settings.ca ? readSettingFile(settings.ca, ['ca'], issues) : readFileSync(builtInCa);
  const certificate = settings.client_certificate;
  const read = (file: string, name: string) => readSettingFile(file, ['client_certificate', name], issues);
  const { passphrase } = certificate;
  const material = 'pfx' in certificate ? { pfx: read(certificate.pfx, 'pfx') } : { cert: read(certificate.cert, 'cert')?.toString(), key: read(certificate.key, 'key')?.toString() };
  if (issues.length > found || !ca) return undefined;
  const tls: MutualTls = { ca: ca.toString(), ...material, ...(passphrase === undefined ? {} : { passphrase }) };
  try {
    createSecureContext(tls);
    return tls;
  } catch (err) {
    issues.push({ path: ['client_certificate'], message: `cannot be used (${(err as Error).message})` });
    return undefined;
  }
}

/** When the RP certificate expires: read through TLS itself, which opens PKCS#12 and PEM alike. */
export function certificateNotAfter(tls: MutualTls): Date {
  const socket = new TLSSocket(null as never, { secureContext: createSecureContext(tls) });
  try {
    const certificate = socket.getCertificate();
    if (!certificate || !('valid_to' in certificate)) throw new Error('the RP certificate could not be read');
    return new Date(certificate.valid_to);
  } finally {
    socket.destroy();
  }
}
