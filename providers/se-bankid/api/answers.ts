/**
 * What an answer of the RP API must hold before the broker acts on it. A 200 whose body is not
 * BankID's (a proxy's page, a cut-off or changed body) must not reach the login's steps, which
 * read its fields as the types promise: it is refused as BankID failing (`malformedAnswer`).
 */

type Check = (value: unknown) => boolean;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isString: Check = (value) => typeof value === 'string';
const isOptionalString: Check = (value) => value === undefined || isString(value);

/** An object whose named fields each pass their check (the list made once: this runs on every collect). */
function shaped(fields: Record<string, Check>): Check {
  const checks = Object.entries(fields);
  return (value) => isObject(value) && checks.every(([name, check]) => check(value[name]));
}

const order = shaped({ orderRef: isString, autoStartToken: isString, qrStartToken: isString, qrStartSecret: isString });

/** The fields of completionData the broker reads: the person, the device, the evidence. */
const completionData = shaped({
  user: shaped({ personalNumber: isString, name: isString, givenName: isString, surname: isString }),
  device: shaped({ ipAddress: isString }),
  signature: isString,
  ocspResponse: isString,
  bankIdIssueDate: isOptionalString,
  risk: isOptionalString,
});

const collect: Check = (value) => {
  if (!isObject(value) || !isOptionalString(value.hintCode)) return false;
  if (value.status === 'pending' || value.status === 'failed') return true;
  return value.status === 'complete' && completionData(value.completionData);
};

/** Each endpoint's answer, by its path under the RP API. */
export const answerShapes: Record<string, Check> = {
  auth: order,
  sign: order,
  payment: order,
  'phone/auth': shaped({ orderRef: isString }),
  'phone/sign': shaped({ orderRef: isString }),
  collect,
  cancel: isObject,
};

/** The body parsed as JSON, or undefined when it is not JSON at all. */
export function parsedAnswer(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}
