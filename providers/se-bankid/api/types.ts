/** Swedish BankID Relying Party API v6.0: the parts of its requests and answers the broker uses. */

export interface Requirement {
  pinCode?: boolean;
  mrtd?: boolean;
  cardReader?: 'class1' | 'class2';
  certificatePolicies?: string[];
  /** Only this person may complete the order; it never starts one by itself. */
  personalNumber?: string;
}

export interface WebDeviceData {
  referringDomain?: string;
  userAgent?: string;
  deviceIdentifier?: string;
}

export interface AuthRequest {
  endUserIp: string;
  requirement?: Requirement;
  userVisibleData?: string;
  userVisibleDataFormat?: 'simpleMarkdownV1';
  returnUrl?: string;
  returnRisk?: boolean;
  web?: WebDeviceData;
}

export interface SignRequest extends AuthRequest {
  userVisibleData: string;
  userNonVisibleData?: string;
}

/** What a payment shows the person: `money` only for a card transaction. */
export interface UserVisibleTransaction {
  transactionType: 'card' | 'npa';
  recipient: { name: string };
  money?: { amount: string; currency: string };
  riskWarning?: string;
}

export interface PaymentRequest extends AuthRequest {
  userVisibleTransaction: UserVisibleTransaction;
  userNonVisibleData?: string;
  riskFlags?: string[];
}

/** `/phone/auth` and `/phone/sign` (userVisibleData required for sign): no device data, no returnUrl. */
export interface PhoneRequest {
  /** 12 digits. */
  personalNumber: string;
  /** `user`: the person called the relying party; `RP`: the relying party called the person. */
  callInitiator: 'user' | 'RP';
  requirement?: Pick<Requirement, 'pinCode' | 'cardReader' | 'certificatePolicies'>;
  userVisibleData?: string;
  userVisibleDataFormat?: 'simpleMarkdownV1';
  userNonVisibleData?: string;
}

export interface PhoneOrderResponse {
  orderRef: string;
}

export interface OrderResponse {
  orderRef: string;
  autoStartToken: string;
  qrStartToken: string;
  qrStartSecret: string;
}

export interface CompletionData {
  user: { personalNumber: string; name: string; givenName: string; surname: string };
  device: { ipAddress: string; uhi?: string };
  bankIdIssueDate?: string;
  stepUp?: { mrtd?: boolean };
  signature: string;
  ocspResponse: string;
  risk?: 'low' | 'moderate' | 'high';
}

export type CollectResponse =
  | { orderRef: string; status: 'pending' | 'failed'; hintCode?: string }
  | { orderRef: string; status: 'complete'; completionData: CompletionData };
