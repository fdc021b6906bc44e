import { setTimeout as sleep } from 'node:timers/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { FaultQueue as SharedFaultQueue } from '../../shared/fault-queue.js';
import { rawAnswerOf, sendRaw, type RawAnswer } from '../../shared/raw-answer.js';
import { decodeRequest } from '../api/encoding.js';
import { methods, type FrejaMethod } from '../api/types.js';
import { checkInitRequest, checkReference, checkResultsRequest, FrejaError, isObject, SimulatorError } from './rules.js';
import type { TransactionBook } from './transactions.js';

/** Far above any authentication request Freja takes. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * An error answer Freja might give instead of doing the work, a slow answer that then does it,
 * its answer padded with this many bytes, as a broken or hostile server's might be, or an answer
 * that is not Freja's at all (`answer`, as sent).
 */
export type Fault = { status: number; code?: number } | { delayMs: number } | { paddingBytes: number } | { answer: RawAnswer };

/** Faults waiting for the next requests to each method, oldest first. */
export class FaultQueue extends SharedFaultQueue<FrejaMethod, Fault> {
  constructor() {
    super({ target: checkMethod, fault: checkFault, refuse: (message) => new SimulatorError(message) });
  }
}

function checkMethod(method: unknown): FrejaMethod {
  if (typeof method !== 'string' || !Object.hasOwn(methods, method)) throw new SimulatorError(`method must be one of ${Object.keys(methods).join(', ')}`);
  return method as FrejaMethod;
}

function checkFault(fault: unknown): Fault {
  const answer = isObject(fault) && fault.answer !== undefined ? rawAnswerOf(fault.answer) : undefined;
  if (answer) return { answer };
  if (!isFault(fault)) throw new SimulatorError('fault must be { status: 400–599, code? }, { delayMs }, { paddingBytes } or { answer: { status: 200–599, body, contentType? } }');
  return fault;
}

function isFault(fault: unknown): fault is Fault {
  if (!isObject(fault)) return false;
  if (Number.isSafeInteger(fault.delayMs) && (fault.delayMs as number) >= 0) return true;
  if (Number.isSafeInteger(fault.paddingBytes) && (fault.paddingBytes as number) >= 0) return true;
  const { status, code } = fault;
  return Number.isSafeInteger(status) && (status as number) >= 400 && (status as number) <= 599 && (code === undefined || Number.isSafeInteger(code));
}

/** What the simulator saw, for tests: how often each method was called, and its last JSON. */
export class Traffic {
  readonly calls = new Map<FrejaMethod, number>();
  readonly last = new Map<FrejaMethod, { body: unknown; contentType: string | undefined; raw: string }>();
}

const byPath = new Map<string, { method: FrejaMethod; parameter: string }>(Object.entries(methods).map(([method, { path, parameter }]) => [path, { method: method as FrejaMethod, parameter }]));

/**
 * The RP REST API as Freja serves it, over the mutual TLS the server enforces: POST only, to one
 * of the authentication paths, the body `<parameter>=<Base64 JSON>` with exactly the path's
 * parameter, refusals as `{code, message}` with 422 (400 for a body that cannot be read).
 */
export function apiHandler(book: TransactionBook, faults: FaultQueue, traffic: Traffic): RequestListener {
  const perform: Record<FrejaMethod, (body: unknown) => Promise<unknown>> = {
    start: async (body) => {
      const request = checkInitRequest(body);
      return { authRef: book.init(request.minRegistrationLevel, request.attributes) };
    },
    result: (body) => book.result(checkReference(body)),
    results: async (body) => {
      checkResultsRequest(body);
      return { authenticationResults: await book.results() };
    },
    cancel: async (body) => {
      book.cancel(checkReference(body));
      return undefined;
    },
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readBody(request);
    const route = byPath.get(new URL(request.url ?? '/', 'https://freja').pathname);
    if (!route) return send(response, 404, { code: 1000, message: 'No such method.' });
    if (request.method !== 'POST') return send(response, 405, { code: 1000, message: 'Only POST is allowed.' });
    traffic.calls.set(route.method, (traffic.calls.get(route.method) ?? 0) + 1);
    const fault = faults.take(route.method);
    if (fault && 'delayMs' in fault) await sleep(fault.delayMs);
    else if (fault && 'answer' in fault) return sendRaw(response, fault.answer);
    else if (fault && 'status' in fault) return send(response, fault.status, fault.code === undefined ? undefined : { code: fault.code, message: 'Injected by the simulator.' });
    if (text === undefined) return send(response, 400, { code: 1010, message: 'The request is too large.' });
    const decoded = decodeRequest(route.parameter, text);
    if (!decoded) return send(response, 400, { code: 1010, message: `The body must be ${route.parameter}=<Base64 of JSON>.` });
    traffic.last.set(route.method, { body: decoded.body, contentType: request.headers['content-type'], raw: text });
    if (decoded.relyingPartyId !== undefined) return send(response, 422, { code: 1011, message: 'This relying party is not an integrator.' });
    try {
      const answer = await perform[route.method](decoded.body);
      const padded = fault && 'paddingBytes' in fault ? { ...(answer as object), padding: 'x'.repeat(fault.paddingBytes) } : answer;
      send(response, padded === undefined ? 204 : 200, padded);
    } catch (error) {
      if (!(error instanceof FrejaError)) throw error;
      send(response, error.status, { code: error.code, message: error.message });
    }
  }

  return (request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) send(response, 500, { code: 0, message: 'Internal error.' });
    });
  };
}

/** The body, or undefined when it is too large (read to the end all the same, so the connection stays usable). */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const json = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, { 'cache-control': 'no-store', ...(json ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) } : {}) });
  response.end(json);
}
