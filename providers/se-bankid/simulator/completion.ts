import { createHash, randomBytes } from 'node:crypto';
import type { SimulatedPerson } from './persons.js';
import type { OrderKind, OrderRequest } from './requests.js';

/** What collect returns for a complete order, shaped as BankID's v6.0 completionData. */
export interface CompletionData {
  user: { personalNumber: string; name: string; givenName: string; surname: string };
  device: { ipAddress: string; uhi: string };
  bankIdIssueDate: string;
  stepUp?: { mrtd: boolean };
  signature: string;
  ocspResponse: string;
  risk?: 'low';
}

export interface CompletedOrder {
  orderRef: string;
  kind: OrderKind;
  request: OrderRequest;
}

/** Where the phone of a phone order is, as BankID sees it: no browser sent an endUserIp. */
const PHONE_IP_ADDRESS = '198.51.100.7';

/**
 * `mrtd` is whether the person's passport or ID card was checked; left out, it was exactly
 * when the order required it.
 */
export function completionData(order: CompletedOrder, person: SimulatedPerson, mrtd?: boolean): CompletionData {
  const { requirement, endUserIp, returnRisk } = order.request;
  return {
    user: {
      personalNumber: person.personalNumber,
      name: person.name,
      givenName: person.givenName,
      surname: person.surname,
    },
    device: { ipAddress: endUserIp ?? PHONE_IP_ADDRESS, uhi: deviceId(person) },
    bankIdIssueDate: person.bankIdIssueDate,
    ...(requirement?.mrtd ? { stepUp: { mrtd: mrtd ?? true } } : {}),
    signature: Buffer.from(signatureXml(order, person)).toString('base64'),
    ocspResponse: randomBytes(96).toString('base64'),
    ...(returnRisk ? { risk: 'low' as const } : {}),
  };
}

/** Each person has one phone, so the same person always gets the same hardware id. */
function deviceId(person: SimulatedPerson): string {
  return createHash('sha1').update(`simulated phone of ${person.personalNumber}`).digest('base64');
}

/**
 * Not a real XML signature, but something an RP can store and decode. Every value in it is
 * a UUID, digits or base64, so none needs escaping.
 */
function signatureXml(order: CompletedOrder, person: SimulatedPerson): string {
  const signedData: [name: string, value: string | undefined][] = [
    ['orderRef', order.orderRef],
    ['kind', order.kind],
    ['personalNumber', person.personalNumber],
    ['userVisibleData', order.request.userVisibleData],
    ['userNonVisibleData', order.request.userNonVisibleData],
    ['userVisibleTransaction', order.request.userVisibleTransaction && Buffer.from(JSON.stringify(order.request.userVisibleTransaction)).toString('base64')],
  ];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<SimulatedSignature xmlns="urn:nordic-eid-broker:se-bankid-simulator">',
    ...signedData.filter(([, value]) => value).map(([name, value]) => `  <${name}>${value}</${name}>`),
    '</SimulatedSignature>',
    '',
  ].join('\n');
}
