import { createHash, createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { finalStatuses, type AuthResult, type RegistrationLevel, type RequestedAttributes, type TransactionStatus } from '../api/types.js';
import { findPerson, relyingPartyUserId, type SimulatedPerson } from './persons.js';
import { FrejaError, SimulatorError } from './rules.js';
import type { PemCredentials } from '../../shared/test-pki.js';

/**
 * Ways to spoil an approved result's JWS, each one a broker must refuse: a signature that does
 * not verify, a certificate it does not know, `alg: none`, another transaction's authRef, a
 * level below the one asked for, a confirmation long ago.
 */
export const tampering = ['badSignature', 'unknownCertificate', 'algNone', 'wrongAuthRef', 'levelMismatch', 'stale'] as const;
export type Tampering = (typeof tampering)[number];

/** The QR code's and the launch link's content: Freja's app binds the transaction it names. */
const LINK = /^frejaeid:\/\/bindUserToTransaction\?transactionReference=([^&]+)$/;

const levelRank: Record<RegistrationLevel, number> = { BASIC: 0, EXTENDED: 1, PLUS: 2 };

interface Transaction {
  authRef: string;
  createdAt: number;
  minRegistrationLevel: RegistrationLevel;
  attributes: string[];
  status: TransactionStatus;
  finishedAt?: number;
  person?: SimulatedPerson;
  tampering?: Tampering;
  /** This device: where the app sends the person when done (`originAppScheme`). */
  returnUrl?: string;
}

/** A transaction as the control API and the app page list it. */
export interface TransactionView {
  authRef: string;
  status: TransactionStatus;
  minRegistrationLevel: RegistrationLevel;
  /** The QR code (or link) has not been opened in the app yet. */
  awaitingApp: boolean;
  createdAt: number;
}

export interface SigningKey {
  key: KeyObject;
  x5t: string;
}

/** A signing key and its certificate's x5t (Base64url SHA-1 of the DER), as Freja's JWS header carries it. */
export function signingKeyOf(credentials: PemCredentials): SigningKey {
  return {
    key: createPrivateKey(credentials.key),
    x5t: createHash('sha1').update(new X509Certificate(credentials.cert).raw).digest('base64url'),
  };
}

export interface TransactionBookOptions {
  signing: SigningKey;
  /** Signs the `unknownCertificate` tampering: a key the broker was never given. */
  foreignSigning: SigningKey;
  /** A transaction nobody finishes expires after this; Freja gives the person two minutes. */
  expiryMs: number;
  /** How long a finished transaction still answers getOneResult. */
  retentionMs: number;
}

/**
 * Freja's transactions and the person's app acting on them. Lifecycle: STARTED (waiting for
 * the app), DELIVERED_TO_MOBILE (opened in the app), then one final status: APPROVED (with a
 * signed result), CANCELED (declined in the app), RP_CANCELED, EXPIRED or REJECTED. Only an
 * unfinished transaction can change; an unknown, or long finished, authRef is error 1100.
 */
export class TransactionBook {
  readonly #transactions = new Map<string, Transaction>();
  readonly #options: TransactionBookOptions;

  constructor(options: TransactionBookOptions) {
    this.#options = options;
  }

  init(minRegistrationLevel: RegistrationLevel, attributes: string[]): string {
    this.#forgetOld();
    const authRef = randomBytes(32).toString('base64url');
    this.#transactions.set(authRef, { authRef, createdAt: Date.now(), minRegistrationLevel, attributes, status: 'STARTED' });
    return authRef;
  }

  async result(authRef: string): Promise<AuthResult> {
    return this.#resultOf(this.#known(authRef));
  }

  results(): Promise<AuthResult[]> {
    this.#forgetOld();
    return Promise.all([...this.#transactions.values()].map((transaction) => this.#resultOf(transaction)));
  }

  /** The relying party cancels: RP_CANCELED. A finished transaction cannot be cancelled (1100). */
  cancel(authRef: string): void {
    const transaction = this.#known(authRef);
    if (isFinal(transaction.status)) throw new FrejaError(1100, 'The transaction has already ended.');
    this.#finish(transaction, 'RP_CANCELED');
  }

  /** The phone's camera reads a QR code: the app shows the transaction it names. */
  scan(payload: string): void {
    const authRef = LINK.exec(payload)?.[1];
    if (!authRef) throw new SimulatorError('That is not a Freja eID QR code.');
    this.#bind(decodeURIComponent(authRef));
  }

  /** The launch link on this device opens the app; `returnUrl` is its originAppScheme. */
  open(authRef: string, returnUrl: string | undefined): void {
    const transaction = this.#bind(authRef);
    if (returnUrl) transaction.returnUrl = returnUrl;
  }

  approve(authRef: string, person?: number | string, options: { tampering?: Tampering } = {}): void {
    const transaction = this.#inApp(authRef);
    const who = findPerson(person);
    if (!who) throw new SimulatorError('No such test person.');
    if (levelRank[who.registrationLevel] < levelRank[transaction.minRegistrationLevel]) {
      throw new SimulatorError(`${who.name} has Freja eID at level ${who.registrationLevel}; the service asks for ${transaction.minRegistrationLevel}.`);
    }
    transaction.person = who;
    if (options.tampering) transaction.tampering = options.tampering;
    this.#finish(transaction, 'APPROVED');
  }

  /** The person declines in the app: CANCELED. */
  decline(authRef: string): void {
    this.#finish(this.#inApp(authRef), 'CANCELED');
  }

  expire(authRef: string): void {
    this.#finish(this.#unfinished(authRef), 'EXPIRED');
  }

  /** Freja stops the transaction for its own security reasons: REJECTED. */
  reject(authRef: string): void {
    this.#finish(this.#unfinished(authRef), 'REJECTED');
  }

  /** Where the app sends the person after a transaction opened on this device has ended. */
  returnUrlAfter(authRef: string): string | undefined {
    const transaction = this.#transactions.get(authRef);
    return transaction && isFinal(transaction.status) ? transaction.returnUrl : undefined;
  }

  views(): TransactionView[] {
    this.#forgetOld();
    return [...this.#transactions.values()].map((transaction) => {
      const { authRef, status, minRegistrationLevel, createdAt } = this.#current(transaction);
      return { authRef, status, minRegistrationLevel, awaitingApp: status === 'STARTED', createdAt };
    });
  }

  #bind(authRef: string): Transaction {
    const transaction = this.#unfinished(authRef);
    if (transaction.status !== 'STARTED') throw new SimulatorError('This transaction is already open in an app.');
    transaction.status = 'DELIVERED_TO_MOBILE';
    return transaction;
  }

  #inApp(authRef: string): Transaction {
    const transaction = this.#unfinished(authRef);
    if (transaction.status !== 'DELIVERED_TO_MOBILE') throw new SimulatorError('Scan the QR code or open the link first.');
    return transaction;
  }

  #unfinished(authRef: string): Transaction {
    const transaction = this.#transactions.get(authRef);
    if (!transaction) throw new SimulatorError('No such transaction.');
    if (isFinal(this.#current(transaction).status)) throw new SimulatorError(`The transaction has already ended (${transaction.status}).`);
    return transaction;
  }

  #known(authRef: string): Transaction {
    this.#forgetOld();
    const transaction = this.#transactions.get(authRef);
    if (!transaction) throw new FrejaError(1100, 'Invalid or expired transaction reference.');
    return this.#current(transaction);
  }

  /** The transaction now: one nobody finished in time has expired. */
  #current(transaction: Transaction): Transaction {
    if (!isFinal(transaction.status) && Date.now() - transaction.createdAt >= this.#options.expiryMs) this.#finish(transaction, 'EXPIRED');
    return transaction;
  }

  #finish(transaction: Transaction, status: TransactionStatus): void {
    transaction.status = status;
    transaction.finishedAt = Date.now();
  }

  #forgetOld(): void {
    const now = Date.now();
    for (const [authRef, transaction] of this.#transactions) {
      const finishedAt = this.#current(transaction).finishedAt;
      if (finishedAt !== undefined && now - finishedAt > this.#options.retentionMs) this.#transactions.delete(authRef);
    }
  }

  async #resultOf(transaction: Transaction): Promise<AuthResult> {
    const { authRef, status } = transaction;
    if (status !== 'APPROVED') return { authRef, status };
    const attributes = attributesOf(transaction);
    return { authRef, status, details: await this.#sign(transaction, attributes), requestedAttributes: attributes };
  }

  async #sign(transaction: Transaction, attributes: RequestedAttributes): Promise<string> {
    const { tampering: spoil } = transaction;
    const payload = {
      authRef: spoil === 'wrongAuthRef' ? randomBytes(32).toString('base64url') : transaction.authRef,
      status: 'APPROVED',
      userInfoType: 'INFERRED',
      userInfo: 'N/A',
      minRegistrationLevel: transaction.minRegistrationLevel,
      timestamp: spoil === 'stale' ? transaction.finishedAt! - 3_600_000 : transaction.finishedAt!,
      requestedAttributes: spoil === 'levelMismatch' ? { ...attributes, registrationLevel: 'BASIC' } : attributes,
    };
    const bytes = new TextEncoder().encode(JSON.stringify(payload));
    if (spoil === 'algNone') {
      return `${Buffer.from(JSON.stringify({ alg: 'none', x5t: this.#options.signing.x5t })).toString('base64url')}.${Buffer.from(bytes).toString('base64url')}.`;
    }
    const signing = spoil === 'unknownCertificate' ? this.#options.foreignSigning : this.#options.signing;
    const jws = await new CompactSign(bytes).setProtectedHeader({ alg: 'RS256', x5t: signing.x5t }).sign(signing.key);
    if (spoil !== 'badSignature') return jws;
    const signature = Buffer.from(jws.slice(jws.lastIndexOf('.') + 1), 'base64url');
    signature[0]! ^= 0xff;
    return `${jws.slice(0, jws.lastIndexOf('.') + 1)}${signature.toString('base64url')}`;
  }
}

function isFinal(status: string): boolean {
  return (finalStatuses as readonly string[]).includes(status);
}

/** The attributes asked for, of the person who approved, in Freja's shapes. */
function attributesOf(transaction: Transaction): RequestedAttributes {
  const person = transaction.person!;
  const asked = new Set(transaction.attributes);
  return {
    ...(asked.has('BASIC_USER_INFO') ? { basicUserInfo: { name: person.name, surname: person.surname } } : {}),
    ...(asked.has('SSN') ? { ssn: { country: 'SE', ssn: person.ssn } } : {}),
    ...(asked.has('DATE_OF_BIRTH') ? { dateOfBirth: person.dateOfBirth } : {}),
    ...(asked.has('RELYING_PARTY_USER_ID') ? { relyingPartyUserId: relyingPartyUserId(person) } : {}),
    ...(asked.has('REGISTRATION_LEVEL') ? { registrationLevel: person.registrationLevel } : {}),
  };
}
