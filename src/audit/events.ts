/**
 * Every audit event the broker writes, by name, with its stable id. Ids never change meaning
 * and are never reused: operators alert on them and auditors search by them. EID_1xxxxx are a
 * person's login through an eID (as BankID authenticators number theirs), EID_2xxxxx tokens,
 * EID_3xxxxx logout, EID_4xxxxx changes to clients.
 */
export const auditEvents = {
  'authentication.started': { id: 'EID_100001', message: 'eID authentication started' },
  'authentication.completed': { id: 'EID_100002', message: 'eID authentication completed' },
  'authentication.failed': { id: 'EID_100003', message: 'eID authentication failed' },
  'authentication.cancelled': { id: 'EID_100004', message: 'eID authentication cancelled or expired' },
  'signature.started': { id: 'EID_110001', message: 'eID signature started' },
  'signature.completed': { id: 'EID_110002', message: 'eID signature completed' },
  'signature.failed': { id: 'EID_110003', message: 'eID signature failed' },
  'signature.cancelled': { id: 'EID_110004', message: 'eID signature cancelled or expired' },
  'payment.started': { id: 'EID_120001', message: 'eID payment approval started' },
  'payment.completed': { id: 'EID_120002', message: 'eID payment approved' },
  'payment.failed': { id: 'EID_120003', message: 'eID payment approval failed' },
  'payment.cancelled': { id: 'EID_120004', message: 'eID payment approval cancelled or expired' },
  'backchannel.requested': { id: 'EID_100005', message: 'backchannel authentication requested (CIBA)' },
  'backchannel.refused': { id: 'EID_100006', message: 'backchannel authentication request refused (CIBA)' },
  'tokens.issued': { id: 'EID_200001', message: 'tokens issued' },
  logout: { id: 'EID_300001', message: 'logged out' },
  'client.created': { id: 'EID_400001', message: 'client created' },
  'client.updated': { id: 'EID_400002', message: 'client updated' },
  'client.deleted': { id: 'EID_400003', message: 'client deleted' },
  'client.secret_rotated': { id: 'EID_400004', message: 'client secret rotated' },
  'initial_access_token.issued': { id: 'EID_400005', message: 'initial access token issued' },
  'initial_access_token.revoked': { id: 'EID_400006', message: 'initial access token revoked' },
  'webhook.created': { id: 'EID_400007', message: 'webhook endpoint created' },
  'webhook.deleted': { id: 'EID_400008', message: 'webhook endpoint deleted' },
  'evidence.read': { id: 'EID_400009', message: "an eID's evidence of a transaction was read" },
} as const;

export type AuditEventName = keyof typeof auditEvents;

/**
 * The events a login's transitions are written as: those of a signature or a payment when its
 * authorization_details ask for one (RFC 9396 type `sign` or `payment`), else an authentication's
 * (a login that only shows a message is one).
 */
export type LoginEventFamily = 'authentication' | 'signature' | 'payment';
const familyOfType: Record<string, LoginEventFamily> = { sign: 'signature', payment: 'payment' };
export const loginEventFamily = (detailType: string | undefined): LoginEventFamily => familyOfType[detailType ?? ''] ?? 'authentication';

export const auditEventNames = Object.keys(auditEvents) as [AuditEventName, ...AuditEventName[]];
export type AuditEventId = (typeof auditEvents)[AuditEventName]['id'];

/**
 * What an event may say. Every field is optional but `event_id`, `event` and `time`; what is
 * known is set. Never a secret, a token, or a personal number in clear (unless configured).
 */
export interface AuditFields {
  /** The traceId of the request that caused the event (also in its response's `traceId` header). */
  traceId?: string;
  /** The person's (or the admin's) IP address, through trusted proxies only. */
  source_ip?: string;
  /**
   * The IP address of the device the person identified with, as the eID saw it (BankID's
   * completionData.device.ipAddress: the phone, where source_ip is the browser). Completed logins.
   */
  device_ip?: string;
  client_id?: string;
  /** The eID's id, e.g. se-bankid. */
  eid?: string;
  /** The login (the OIDC interaction) the event belongs to: the same in every event of one login. */
  login_id?: string;
  /** The eID's own id of its transaction (BankID's orderRef, the upstream's sid or jti). */
  transaction_id?: string;
  /** The eID's custom_identifier, when configured. */
  custom_identifier?: string;
  /** The person's sub (completed logins, tokens, logout). */
  sub?: string;
  /** The person's personal number, masked unless audit.personal_numbers_in_clear. */
  personal_number?: string;
  acr?: string;
  /** The OIDC error the client got (failed, cancelled). */
  error?: string;
  /** Plain words on what happened; never a secret or a personal number. */
  message?: string;
  /** cancelled or expired (EID_100004). */
  ending?: string;
  /** What a person is asked for: `auth` (identify) or `sign` (sign a text). Backchannel requests (EID_10000x). */
  operation?: 'auth' | 'sign';
  /** A backchannel request's phone call: started by the person (`user`) or by the client's organisation (`RP`). */
  call_initiator?: string;
  grant_type?: string;
  scope?: string;
  /** The webhook endpoint created or deleted (EID_400007–8). */
  webhook_id?: string;
  /** Who changed a client: the admin API or dynamic registration. */
  actor?: 'admin_api' | 'registration';
}

export interface AuditEvent extends AuditFields {
  event_id: AuditEventId;
  event: AuditEventName;
  /** ISO 8601. */
  time: string;
}
