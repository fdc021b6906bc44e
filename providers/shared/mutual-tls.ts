import { ConfigError } from '../../src/eids/sdk.js';
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

/** A file the configuration names; a missing one is a configuration error naming `key`. */
export function readConfiguredFile(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${key}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * The TLS material from `eids.<id>.client_certificate` and the CA (the configured `ca` file,
 * else `builtInCa`), read and tried at start-up: a wrong passphrase or a legacy (RC2) PKCS#12
 * stops the start rather than the first login.
 */
export function readMutualTls(
  id: string,
  settings: { client_certificate: z.output<typeof clientCertificate>; ca?: string | undefined },
  builtInCa: string,
): MutualTls {
  const key = (name: string) => `eids.${id}.${name}`;
  const ca = (settings.ca ? readConfiguredFile(settings.ca, key('ca')) : readFileSync(builtInCa)).toString();
  const certificate = settings.client_certificate;
  const tls: MutualTls =
    'pfx' in certificate
      ? { ca, pfx: readConfiguredFile(certificate.pfx, key('client_certificate.pfx')), passphrase: certificate.passphrase }
      : {
          ca,
          cert: readConfiguredFile(certificate.cert, key('client_certificate.cert')).toString(),
          key: readConfiguredFile(certificate.key, key('client_certificate.key')).toString(),
          passphrase: certificate.passphrase,
        };
  try {
    createSecureContext(tls);
  } catch (err) {
    throw new ConfigError(`${key('client_certificate')}: cannot be used (${(err as Error).message})`);
  }
  return tls;
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
