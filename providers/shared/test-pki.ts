import { randomBytes, webcrypto } from 'node:crypto';
// @peculiar/x509 finds its algorithms through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

/** A certificate and its private key, both PEM (the key as PKCS#8). */
export interface PemCredentials {
  cert: string;
  key: string;
}

/**
 * Everything a simulated eID API and its clients need for mutual TLS, made fresh on each run so
 * no private key is ever committed. The two CAs are separate, as they are at BankID and Freja eID:
 * one vouches for the API server, the other for relying parties.
 */
export interface TestPki {
  serverCa: string;
  server: PemCredentials;
  clientCa: string;
  client: PemCredentials;
}

interface CertificateAuthority {
  certificate: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
}

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' };
const HOUR_MS = 3_600_000;
/** Long enough for a day of `npm start`; the certificates die with the process anyway. */
const VALIDITY_MS = 365 * 24 * HOUR_MS;

const SERVER_NAMES: x509.JsonGeneralNames = [
  { type: 'dns', value: 'localhost' },
  { type: 'ip', value: '127.0.0.1' },
  { type: 'ip', value: '::1' },
];

export interface TestPkiOptions {
  /** Whose API the certificates play, in their names (e.g. "BankID"). */
  upstream: string;
  /** How long the RP certificate is valid (to try out expiry warnings). */
  clientValidityMs?: number;
}

export async function createTestPki(options: TestPkiOptions): Promise<TestPki> {
  const serverCa = await createCertificateAuthority(`Simulated ${options.upstream} SSL Root CA`);
  const clientCa = await createCertificateAuthority(`Simulated ${options.upstream} RP CA`);
  return {
    serverCa: serverCa.certificate.toString('pem'),
    server: await issue(serverCa, 'localhost', [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(SERVER_NAMES),
    ]),
    clientCa: clientCa.certificate.toString('pem'),
    client: await issueClientCertificate(clientCa, 'Simulated RP', options.clientValidityMs),
  };
}

/**
 * A relying-party certificate from a CA of its own, which the simulator does not trust: what a
 * stranger, or a misconfigured broker, would present.
 */
export async function createUntrustedClientCertificate(
  commonName = 'Untrusted RP',
): Promise<PemCredentials & { ca: string }> {
  const ca = await createCertificateAuthority('Untrusted RP CA');
  return { ca: ca.certificate.toString('pem'), ...(await issueClientCertificate(ca, commonName)) };
}

async function issueClientCertificate(ca: CertificateAuthority, commonName: string, validityMs?: number): Promise<PemCredentials> {
  return issue(ca, commonName, [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])], validityMs);
}

async function createCertificateAuthority(commonName: string): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      ...validity(),
      name: `CN=${commonName}`,
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
      ],
    },
    webcrypto,
  );
  return { certificate, keys };
}

async function issue(
  ca: CertificateAuthority,
  commonName: string,
  purposeExtensions: x509.Extension[],
  validityMs?: number,
): Promise<PemCredentials> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.create(
    {
      ...validity(validityMs),
      subject: `CN=${commonName}`,
      issuer: ca.certificate.subject,
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey, false, webcrypto),
        ...purposeExtensions,
      ],
    },
    webcrypto,
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: certificate.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

/** Starts an hour back so a client whose clock runs a little behind still accepts it. */
function validity(validityMs = VALIDITY_MS): { serialNumber: string; notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return {
    // A leading 01 keeps the DER integer positive.
    serialNumber: `01${randomBytes(15).toString('hex')}`,
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + validityMs),
  };
}

const RSA_SIGNING = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };

/**
 * A self-signed RSA certificate and its key, for a simulated eID that signs its answers (Freja
 * eID's results, RS256), as the eID's own signing certificate does.
 */
export async function createSigningCertificate(commonName: string): Promise<PemCredentials> {
  const keys = await webcrypto.subtle.generateKey(RSA_SIGNING, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      ...validity(),
      name: `CN=${commonName}`,
      keys,
      signingAlgorithm: RSA_SIGNING,
      extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    },
    webcrypto,
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { cert: certificate.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}
