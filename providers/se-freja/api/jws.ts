import { createHash, X509Certificate } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import type { RegistrationLevel, SignedResult } from './types.js';

/** Why a signed result was not believed: logged (with `security: true`), never shown. */
export class RefusedResult extends Error {
  constructor(readonly reason: string) {
    super(`Freja eID's signed result was refused: ${reason}`);
    this.name = 'RefusedResult';
  }
}

/** RSA PKCS#1 v1.5, which Freja signs results with; anything else (`none` above all) is refused. */
const ALGORITHMS = ['RS256'];

/** How old a confirmation may be when the broker reads it: Freja's own window plus clock skew. */
const MAX_AGE_MS = 10 * 60_000;
const MAX_FUTURE_MS = 60_000;

const levelRank: Record<RegistrationLevel, number> = { BASIC: 0, EXTENDED: 1, PLUS: 2 };

/** What the broker asked for, which the signed result must repeat. */
export interface Expected {
  authRef: string;
  minRegistrationLevel: RegistrationLevel;
}

/**
 * Freja's JWS signing certificates, by `x5t` (Base64url SHA-1 of the DER certificate, which
 * Freja's header names). Several may be configured, for Freja's rotations.
 */
export class SigningCertificates {
  readonly #byThumbprint = new Map<string, X509Certificate>();

  constructor(pems: readonly string[]) {
    for (const pem of pems) {
      const certificate = new X509Certificate(pem);
      this.#byThumbprint.set(createHash('sha1').update(certificate.raw).digest('base64url'), certificate);
    }
  }

  /** The earliest expiry, for the certificate-expiry warnings. */
  get notAfter(): Date {
    return new Date(Math.min(...[...this.#byThumbprint.values()].map((certificate) => Date.parse(certificate.validTo))));
  }

  /**
   * The result in `details`, believed only when: its header names a configured certificate
   * (`x5t`) valid now, with an allowed algorithm; the signature verifies against it; and the
   * payload is the transaction the broker started (authRef), APPROVED, INFERRED, at the level
   * asked for (both the level requested and the level the person has), and confirmed recently.
   */
  async verify(details: string, expected: Expected, now = Date.now()): Promise<SignedResult> {
    let header: { alg?: unknown; x5t?: unknown };
    try {
      header = decodeProtectedHeader(details);
    } catch {
      throw new RefusedResult('malformed');
    }
    if (typeof header.alg !== 'string' || !ALGORITHMS.includes(header.alg)) throw new RefusedResult('algorithm');
    const certificate = typeof header.x5t === 'string' ? this.#byThumbprint.get(header.x5t) : undefined;
    if (!certificate) throw new RefusedResult('unknownCertificate');
    if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo)) throw new RefusedResult('certificateExpired');
    let payload: Uint8Array;
    try {
      ({ payload } = await compactVerify(details, certificate.publicKey, { algorithms: ALGORITHMS }));
    } catch {
      throw new RefusedResult('signature');
    }
    return checkPayload(parsePayload(payload), expected, now);
  }
}

function parsePayload(payload: Uint8Array): SignedResult {
  try {
    const result = JSON.parse(new TextDecoder().decode(payload)) as SignedResult;
    if (result && typeof result === 'object' && result.requestedAttributes && typeof result.requestedAttributes === 'object') return result;
  } catch {
    // Falls through.
  }
  throw new RefusedResult('malformed');
}

function checkPayload(result: SignedResult, expected: Expected, now: number): SignedResult {
  if (result.authRef !== expected.authRef) throw new RefusedResult('authRef');
  if (result.status !== 'APPROVED') throw new RefusedResult('status');
  if (result.userInfoType !== 'INFERRED' || result.userInfo !== 'N/A') throw new RefusedResult('userInfo');
  if (result.minRegistrationLevel !== expected.minRegistrationLevel) throw new RefusedResult('level');
  const level = result.requestedAttributes.registrationLevel;
  if (!level || !(level in levelRank) || levelRank[level] < levelRank[expected.minRegistrationLevel]) throw new RefusedResult('level');
  if (typeof result.timestamp !== 'number' || result.timestamp < now - MAX_AGE_MS || result.timestamp > now + MAX_FUTURE_MS) throw new RefusedResult('timestamp');
  return result;
}
