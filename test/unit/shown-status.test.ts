import { describe, expect, it } from 'vitest';
import type { EidOutcome, PollStatus } from '../../src/eids/plugin.js';
import { shownStatusJson, withJson, withPayload } from '../../src/eids/shown-status.js';

/**
 * What the JSON API answered before its answers were written part by part: the payload's fields
 * spread under the status's own (outcome and payload left out), then the reference of a failure,
 * then redirectTo, serialized as one object.
 */
function shownBefore({ outcome: _outcome, payload, ...status }: PollStatus, reference: string, redirectTo?: string): unknown {
  const visible = { ...payload, ...status };
  const body = status.status === 'ERROR' || status.status === 'CANCEL' ? { ...visible, reference } : visible;
  return JSON.parse(JSON.stringify(redirectTo === undefined ? body : { ...body, redirectTo }));
}

const svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 45 45'><path d='M2 2.5h7m3 0h1'/></svg>";
const qrCode = withJson({ payload: 'bankid.67df3917-fa0d-44e5-b327-edcc928297f8.4.1c7e', svg }, [
  '{"payload":',
  JSON.stringify('bankid.67df3917-fa0d-44e5-b327-edcc928297f8.4.1c7e'),
  ',"svg":"',
  svg,
  '"}',
]);
const waiting = Object.freeze({ status: 'IN_PROGRESS', hintCode: 'outstandingTransaction', messageCode: 'RFA1', message: 'Öppna BankID-appen och skanna QR-koden — “nu”.' } as const);
const failure: EidOutcome = { failure: { error: 'access_denied', description: 'The person cancelled.', ending: 'cancelled' } };

const cases: [string, PollStatus, string | undefined][] = [
  ['waiting, with a QR code made ahead', { ...waiting, payload: { qrCode } }, undefined],
  ['waiting, frozen, with a QR code added for the answer', withPayload(waiting, { qrCode }), undefined],
  ['waiting, frozen, without a payload', waiting, undefined],
  ['the same device, with its link', Object.freeze({ ...waiting, messageCode: 'RFA13', payload: { autoStartToken: 'abc', launchUrl: 'https://app.bankid.com/?autostarttoken=abc&redirect=null' } }), undefined],
  ['not started', { status: 'NOT_STARTED', messageCode: 'RFA19', message: 'Vill du använda BankID på den här datorn?' }, undefined],
  ['complete, with where the browser goes', { status: 'COMPLETE', outcome: { person: { id: 'x' }, acr: 'urn:x', amr: ['mfa'] } as never }, 'https://rp.example/cb?code=a&state=b'],
  ['an error that ends the login', { status: 'ERROR', hintCode: 'expiredTransaction', messageCode: 'RFA8', message: 'Åtgärden avbröts.', outcome: failure }, 'https://rp.example/cb?error=access_denied'],
  ['a cancel that may be tried again', Object.freeze({ status: 'CANCEL', messageCode: 'RFA3', message: 'Avbruten.', retry: true, outcome: failure }), undefined],
  ['a payload naming the core\u2019s fields, and values JSON leaves out', { status: 'ERROR', message: undefined, payload: { message: 'hidden', reference: 'hidden', redirectTo: 'hidden', gone: undefined, n: 3, list: [1, 'a'] } }, 'https://rp.example/'],
];

describe('a status as the JSON API writes it', () => {
  it.each(cases)('%s: parses to what the answer was before', (_name, status, redirectTo) => {
    const written = shownStatusJson(status, 'trace-1', redirectTo);
    expect(JSON.parse(written.toString('utf8'))).toStrictEqual(shownBefore(status, 'trace-1', redirectTo));
  });

  it('writes a frozen status the same every time, with or without fields added, and a QR code made ahead as it was made', () => {
    expect(shownStatusJson(waiting, 'a').equals(shownStatusJson(waiting, 'a'))).toBe(true);
    const answered = withPayload(waiting, { qrCode });
    expect(answered.payload).toEqual({ qrCode });
    expect(waiting).not.toHaveProperty('payload');
    expect(shownStatusJson(answered, 'a').toString()).toBe(`{"qrCode":${JSON.stringify(qrCode)},${JSON.stringify(waiting).slice(1)}`);
    expect(shownStatusJson(answered, 'a').toString()).toContain(`"svg":"${svg}"`);
  });
});
