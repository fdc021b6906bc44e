/** Freja eID's Relying Party REST API, authentication service: the parts the broker uses. */

export type UserInfoType = 'INFERRED' | 'EMAIL' | 'PHONE' | 'SSN' | 'UPI';
export type RegistrationLevel = 'BASIC' | 'EXTENDED' | 'PLUS';

/** `initAuthRequest`. The broker only sends INFERRED (QR code or this device): no typed identifiers. */
export interface InitAuthRequest {
  userInfoType: UserInfoType;
  userInfo: string;
  minRegistrationLevel: RegistrationLevel;
  attributesToReturn?: { attribute: string }[];
  userConfirmationMethod?: 'DEFAULT' | 'DEFAULT_AND_FACE';
  useDynamicQrCode?: boolean;
}

export interface InitAuthResponse {
  authRef: string;
}

/** Final statuses end a transaction; STARTED and DELIVERED_TO_MOBILE are still waiting for the person. */
export const finalStatuses = ['APPROVED', 'CANCELED', 'RP_CANCELED', 'EXPIRED', 'REJECTED'] as const;
export type TransactionStatus = 'STARTED' | 'DELIVERED_TO_MOBILE' | (typeof finalStatuses)[number];

/** One transaction's result (`getOneResult`, and each item of `getResults`). */
export interface AuthResult {
  authRef: string;
  status: TransactionStatus | string;
  /** The signed result (compact JWS), only when APPROVED. */
  details?: string;
  /** An unsigned copy of the attributes: never believed, the signed one in `details` is. */
  requestedAttributes?: unknown;
}

/** What `details` says once its signature is verified. */
export interface SignedResult {
  authRef: string;
  status: string;
  userInfoType: string;
  userInfo: string;
  minRegistrationLevel: string;
  /** When Freja confirmed, ms since the epoch. */
  timestamp: number;
  requestedAttributes: RequestedAttributes;
}

export interface RequestedAttributes {
  basicUserInfo?: { name: string; surname: string };
  ssn?: { country: string; ssn: string };
  dateOfBirth?: string;
  relyingPartyUserId?: string;
  registrationLevel?: RegistrationLevel;
}

/** The attributes the broker asks for: name, personal number, date of birth, its own id of the person, level. */
export const ATTRIBUTES_TO_RETURN = ['BASIC_USER_INFO', 'SSN', 'DATE_OF_BIRTH', 'RELYING_PARTY_USER_ID', 'REGISTRATION_LEVEL'] as const;

/**
 * Each method's path and the one form parameter its JSON travels in (Base64 of UTF-8 JSON).
 * The names are Freja's; the broker's operations (for metrics) are the keys.
 */
export const methods = {
  start: { path: '/authentication/1.0/initAuthentication', parameter: 'initAuthRequest' },
  result: { path: '/authentication/1.0/getOneResult', parameter: 'getOneAuthResultRequest' },
  results: { path: '/authentication/1.0/getResults', parameter: 'getAuthResultsRequest' },
  cancel: { path: '/authentication/1.0/cancel', parameter: 'cancelAuthRequest' },
} as const;

export type FrejaMethod = keyof typeof methods;
