import type { AuthorizationDetail } from '../../src/eids/sdk.js';
import type { CompletionData } from './api/types.js';

/**
 * BankID's evidence of a completed order: what the relying party keeps to prove, without ever
 * asking BankID, that this person signed or approved this (BankID asks relying parties to keep
 * completionData for audit). The same object is stored for `evidence_ttl` (the admin API serves
 * it by orderRef) and travels with the tokens, inside each granted authorization_details entry.
 */
export interface BankIdEvidence {
  /** Which eID's evidence this is, as a `sign` or `payment` entry could come from another. */
  eid: 'se-bankid';
  orderRef: string;
  /** When the broker saw the order complete (ISO 8601). */
  completedAt: string;
  /** BankID's XML signature, base64: it contains what was signed. */
  signature: string;
  /** The OCSP response for the person's certificate at signing, base64. */
  ocspResponse: string;
  /** The BankID app's device: its IP address as BankID saw it, and its hardware id. */
  device: { ipAddress: string; uhi?: string };
  /** BankID's risk assessment, when it gave one. */
  risk?: 'low' | 'moderate' | 'high';
  /** When the person's BankID was issued (YYYY-MM-DD). */
  bankIdIssueDate?: string;
}

export function evidenceOf(orderRef: string, data: CompletionData, completedAt: Date): BankIdEvidence {
  return {
    eid: 'se-bankid',
    orderRef,
    completedAt: completedAt.toISOString(),
    signature: data.signature,
    ocspResponse: data.ocspResponse,
    device: { ipAddress: data.device.ipAddress, ...(data.device.uhi ? { uhi: data.device.uhi } : {}) },
    ...(data.risk ? { risk: data.risk } : {}),
    ...(data.bankIdIssueDate ? { bankIdIssueDate: data.bankIdIssueDate } : {}),
  };
}

/**
 * The details as granted (RFC 9396 §7.1): each entry exactly as the person saw it, with BankID's
 * evidence added under `evidence`.
 */
export function grantedDetails(details: readonly AuthorizationDetail[], evidence: BankIdEvidence): AuthorizationDetail[] {
  return details.map((detail) => ({ ...detail, evidence }));
}
