import type { PollStatus } from './plugin.js';

/**
 * JSON text a plugin made ahead for a value it hands the core (BankID's QR code of a second:
 * a 3 KB image and its payload), in parts written one after the other. A waiting page polls
 * every second, so serializing that image again at every answer, and encoding the whole answer
 * as UTF-8 because its message is not ASCII, was a good part of a poll's own CPU.
 */
const madeAhead = new WeakMap<object, readonly string[]>();

/**
 * `value`, frozen, with `json` as its JSON text in parts: `json.join('')` must parse to `value`
 * (the parts are written as they are, unchecked). The parts may be the value's own strings
 * when they need no escaping, so the text costs no copy of them.
 */
export function withJson<T extends object>(value: T, json: readonly string[]): Readonly<T> {
  const frozen = Object.freeze(value);
  madeAhead.set(frozen, json);
  return frozen;
}

/** Statuses answered with more of a plugin's own fields (`withPayload`), and the status each was made from. */
const madeFrom = new WeakMap<PollStatus, PollStatus>();

/**
 * `status` with `payload`'s fields added to its own for one answer (BankID's QR code of the
 * second), the status itself unchanged: its own fields' JSON, made once for a frozen status, is
 * used again for every answer made from it.
 */
export function withPayload(status: PollStatus, payload: Record<string, unknown>): PollStatus {
  const answered = { ...status, payload: { ...status.payload, ...payload } };
  madeFrom.set(answered, status);
  return answered;
}

/** The JSON text of a frozen status's own fields (its payload and outcome left out), made once per status object. */
const ownFieldsKept = new WeakMap<PollStatus, string>();

function ownFieldsOf(answered: PollStatus): string {
  const status = madeFrom.get(answered) ?? answered;
  const kept = ownFieldsKept.get(status);
  if (kept !== undefined) return kept;
  const fields: string[] = [];
  for (const [key, value] of Object.entries(status)) {
    const text = key === 'payload' || key === 'outcome' ? undefined : (JSON.stringify(value) as string | undefined);
    if (text !== undefined) fields.push(`${JSON.stringify(key)}:${text}`);
  }
  const joined = fields.join(',');
  if (Object.isFrozen(status)) ownFieldsKept.set(status, joined);
  return joined;
}

/**
 * The status as the frontend sees it, as UTF-8 JSON: the eID's own fields (its payload) at the
 * top level, under the core's; a failure carries the request's traceId (`reference`), for the
 * person to quote to support; a status that ends the login, where the browser goes next
 * (`redirectTo`). The one serialization of a status that the poll's answer and the event
 * stream's events share. Written part by part into one buffer, so JSON made ahead (`withJson`)
 * and a frozen status's own fields are not serialized again, and only the parts that are not
 * ASCII pay for the UTF-8 encoding.
 */
export function shownStatusJson(status: PollStatus, reference: string, redirectTo?: string): Buffer {
  const parts: string[] = ['{'];
  const ownFields = ownFieldsOf(status);
  const failed = status.status === 'ERROR' || status.status === 'CANCEL';
  // A payload field the status, the reference or redirectTo also names shows theirs, as a spread of the payload under them would.
  const overridden = (key: string) => (Object.hasOwn(status, key) && key !== 'payload' && key !== 'outcome') || (failed && key === 'reference') || (redirectTo !== undefined && key === 'redirectTo');
  for (const [key, value] of Object.entries(status.payload ?? {})) {
    if (overridden(key)) continue;
    const made = typeof value === 'object' && value !== null ? madeAhead.get(value) : undefined;
    // What JSON.stringify leaves out of an object (undefined, a function) it answers with undefined.
    const text = made ? undefined : (JSON.stringify(value) as string | undefined);
    if (!made && text === undefined) continue;
    parts.push(parts.length > 1 ? ',' : '', JSON.stringify(key), ':');
    if (made) parts.push(...made);
    else parts.push(text!);
  }
  if (ownFields) parts.push(parts.length > 1 ? ',' : '', ownFields);
  if (failed) parts.push(parts.length > 1 ? ',' : '', '"reference":', JSON.stringify(reference));
  if (redirectTo !== undefined) parts.push(parts.length > 1 ? ',' : '', '"redirectTo":', JSON.stringify(redirectTo));
  parts.push('}');
  let length = 0;
  for (const part of parts) length += Buffer.byteLength(part);
  const body = Buffer.allocUnsafe(length);
  let at = 0;
  for (const part of parts) at += body.write(part, at);
  return body;
}
