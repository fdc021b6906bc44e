import type { InitAuthRequest, RegistrationLevel } from '../api/types.js';

/** Freja's refusal of a request: its HTTP status (422, or 400 for what cannot be read) and `{code, message}`. */
export class FrejaError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly status = 422,
  ) {
    super(message);
    this.name = 'FrejaError';
  }
}

/** Something the simulated person or a test asked for that the simulator refuses, with why. */
export class SimulatorError extends Error {
  override name = 'SimulatorError';
}

const userInfoTypes = ['INFERRED', 'EMAIL', 'PHONE', 'SSN', 'UPI'];
const levels: RegistrationLevel[] = ['BASIC', 'EXTENDED', 'PLUS'];
const confirmationMethods = ['DEFAULT', 'DEFAULT_AND_FACE'];
/** Attributes any user has; every other needs an EXTENDED or PLUS user. */
const basicAttributes = new Set(['EMAIL_ADDRESS', 'ALL_EMAIL_ADDRESSES', 'ALL_PHONE_NUMBERS', 'RELYING_PARTY_USER_ID', 'CUSTOM_IDENTIFIER', 'REGISTRATION_LEVEL', 'LOA_LEVEL', 'NETWORK_INFO']);
const extendedAttributes = new Set(['BASIC_USER_INFO', 'SSN', 'DATE_OF_BIRTH', 'ADDRESSES', 'AGE', 'GENDER', 'PHOTO', 'DOCUMENT', 'DOCUMENT_PHOTO', 'UNIQUE_PERSONAL_IDENTIFIER']);
const knownFields = new Set(['userInfoType', 'userInfo', 'minRegistrationLevel', 'attributesToReturn', 'userConfirmationMethod', 'originDeviceDetails', 'useDynamicQrCode', 'orgIdIssuer']);

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * An initAuthRequest as Freja checks it, with Freja's error codes. The simulated relying party
 * may only use INFERRED (QR code or this device), as the broker does: a well-formed request of
 * another type is refused with 1004, the code for a method the RP may not use.
 */
export function checkInitRequest(body: unknown): InitAuthRequest & { attributes: string[] } {
  if (!isObject(body)) throw new FrejaError(1010, 'The request is not a JSON object.', 400);
  const unknown = Object.keys(body).find((key) => !knownFields.has(key));
  if (unknown) throw new FrejaError(1000, `Unknown parameter ${unknown}.`);
  const { userInfoType, userInfo, minRegistrationLevel, attributesToReturn, userConfirmationMethod, useDynamicQrCode, orgIdIssuer } = body;
  if (typeof userInfoType !== 'string' || !userInfoTypes.includes(userInfoType)) throw new FrejaError(1001, 'Invalid or missing userInfoType.');
  if (typeof userInfo !== 'string' || !userInfo || userInfo.length > 256) throw new FrejaError(1002, 'Invalid or missing userInfo.');
  if (userInfoType === 'INFERRED' && userInfo !== 'N/A') throw new FrejaError(1002, 'userInfo must be N/A with INFERRED.');
  if (typeof minRegistrationLevel !== 'string' || !levels.includes(minRegistrationLevel as RegistrationLevel)) {
    throw new FrejaError(1007, 'Invalid or missing minRegistrationLevel.');
  }
  const level = minRegistrationLevel as RegistrationLevel;
  const attributes = checkAttributes(attributesToReturn, level);
  if (userConfirmationMethod !== undefined && !confirmationMethods.includes(userConfirmationMethod as string)) {
    throw new FrejaError(1000, 'Invalid userConfirmationMethod.');
  }
  if (userConfirmationMethod === 'DEFAULT_AND_FACE' && level === 'BASIC') throw new FrejaError(1007, 'DEFAULT_AND_FACE needs EXTENDED or PLUS.');
  if (useDynamicQrCode !== undefined && (typeof useDynamicQrCode !== 'boolean' || userInfoType !== 'INFERRED')) {
    throw new FrejaError(1000, 'useDynamicQrCode is a boolean, only with INFERRED.');
  }
  if (orgIdIssuer !== undefined && orgIdIssuer !== 'ANY') throw new FrejaError(1000, 'orgIdIssuer may only be ANY.');
  if (userInfoType !== 'INFERRED') throw new FrejaError(1004, 'This relying party may only use INFERRED.');
  return { userInfoType, userInfo, minRegistrationLevel: level, attributes };
}

function checkAttributes(value: unknown, level: RegistrationLevel): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length === 0) throw new FrejaError(2002, 'attributesToReturn must be a non-empty list.');
  return value.map((item: unknown) => {
    const attribute = isObject(item) && Object.keys(item).length === 1 ? item.attribute : undefined;
    if (typeof attribute !== 'string' || !(basicAttributes.has(attribute) || extendedAttributes.has(attribute))) {
      throw new FrejaError(2002, 'Invalid attribute in attributesToReturn.');
    }
    if (level === 'BASIC' && extendedAttributes.has(attribute)) throw new FrejaError(2002, `${attribute} needs EXTENDED or PLUS.`);
    return attribute;
  });
}

/** A body that must be exactly `{authRef}` (getOneResult, cancel). */
export function checkReference(body: unknown): string {
  if (!isObject(body)) throw new FrejaError(1010, 'The request is not a JSON object.', 400);
  const keys = Object.keys(body);
  if (keys.length !== 1 || typeof body.authRef !== 'string' || !body.authRef) throw new FrejaError(1000, 'The request must be {authRef}.');
  return body.authRef;
}

/** getResults: `{includePrevious: "ALL"}`, the only value Freja allows. */
export function checkResultsRequest(body: unknown): void {
  if (!isObject(body)) throw new FrejaError(1010, 'The request is not a JSON object.', 400);
  if (Object.keys(body).length !== 1 || body.includePrevious !== 'ALL') throw new FrejaError(1200, 'includePrevious must be ALL.');
}
