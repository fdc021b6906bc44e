import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { invalidParameters, RpApiError } from './errors.js';
import { rpEndpoints, type FaultQueue, type RpEndpoint } from './faults.js';
import { sendRaw } from '../../shared/raw-answer.js';
import { parseJson, readBody, sendJson, type RequestBody } from './http.js';
import type { OrderBook } from './orders.js';
import { isJsonObject, readOrderRef, readOrderRequest, type JsonObject } from './requests.js';
import type { RequestLog } from './traffic.js';

export const RP_API_PATH = '/rp/v6.0';

interface RpApiParts {
  book: OrderBook;
  faults: FaultQueue;
  traffic: RequestLog;
  /** Aborted when the simulator closes, so delayed answers stop waiting. */
  closing: AbortSignal;
}

/** The RP API's request handler: BankID's checks in BankID's order, then the order book. */
export function rpApiHandler({ book, faults, traffic, closing }: RpApiParts): RequestListener {
  const endpoints: Record<RpEndpoint, (body: JsonObject) => object> = {
    auth: (body) => book.create('auth', readOrderRequest('auth', body)),
    sign: (body) => book.create('sign', readOrderRequest('sign', body)),
    payment: (body) => book.create('payment', readOrderRequest('payment', body)),
    'phone/auth': (body) => book.create('phone/auth', readOrderRequest('phone/auth', body)),
    'phone/sign': (body) => book.create('phone/sign', readOrderRequest('phone/sign', body)),
    collect: (body) => book.collect(readOrderRef(body)),
    cancel: (body) => {
      book.cancel(readOrderRef(body));
      return {};
    },
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const path = new URL(request.url ?? '/', 'https://simulator').pathname;
    const endpoint = rpEndpoints.find((name) => path === `${RP_API_PATH}/${name}`);
    if (!endpoint) {
      sendError(response, new RpApiError(404, 'notFound', `No such endpoint; the API lives under ${RP_API_PATH}/`));
      return;
    }
    const json = parseJson(body.text);
    traffic.record(endpoint, json);
    const fault = faults.take(endpoint);
    if (fault && 'status' in fault) {
      sendError(response, new RpApiError(fault.status, fault.errorCode, fault.details ?? 'Injected fault'));
      return;
    }
    if (fault && 'answer' in fault) {
      // The order asked about goes into the answer where it says {{orderRef}}, so a broken collect answer still names its order.
      const orderRef = isJsonObject(json) ? String(json.orderRef) : '';
      sendRaw(response, { ...fault.answer, body: fault.answer.body.replaceAll('{{orderRef}}', orderRef) });
      return;
    }
    if (fault) await sleep(fault.delayMs, undefined, { signal: closing });
    try {
      checkRequest(request, body, json);
      sendJson(response, 200, endpoints[endpoint](json as JsonObject));
    } catch (error) {
      if (!(error instanceof RpApiError)) throw error;
      sendError(response, error);
    }
  }

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (closing.aborted) return;
      sendError(response, new RpApiError(500, 'internalError', String(error)));
    });
  };
}

/** Everything BankID refuses before it looks at what the request asks for. */
function checkRequest(request: IncomingMessage, body: RequestBody, json: unknown): void {
  if (request.method !== 'POST') {
    throw new RpApiError(405, 'methodNotAllowed', `${request.method} is not allowed; use POST`);
  }
  if (request.headers['content-type']?.trim().toLowerCase() !== 'application/json') {
    throw new RpApiError(
      415,
      'unsupportedMediaType',
      'Content-Type must be application/json, without parameters such as charset',
    );
  }
  if (body.tooLarge) throw invalidParameters('The request body is too large');
  if (!isJsonObject(json)) throw invalidParameters('The body must be a JSON object');
}

function sendError(response: ServerResponse, error: RpApiError): void {
  if (response.headersSent) return;
  sendJson(response, error.status, { errorCode: error.errorCode, details: error.details });
}
