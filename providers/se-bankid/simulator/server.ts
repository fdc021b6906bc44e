import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TestPki } from './certificates.js';
import { controlHandler } from './control.js';
import { FaultQueue, type Fault, type RpEndpoint } from './faults.js';
import { OrderBook, type SimulatedOrderView } from './orders.js';
import { RP_API_PATH, rpApiHandler } from './rp-api.js';
import { RequestLog } from './traffic.js';
import { listenOn, stopServer } from '../../shared/simulator-server.js';

export { SimulatorError } from './errors.js';
export type { Fault, RpEndpoint } from './faults.js';
export type { SimulatedOrderView } from './orders.js';

export interface SimulatorOptions {
  pki: TestPki;
  /** Default 127.0.0.1; both servers listen here. */
  host?: string;
  /** RP API port; default 0, any free port. */
  port?: number;
  /** Control and app port; default 0, any free port. */
  controlPort?: number;
  /** An order nobody picks up fails with startFailed after this; default 30. */
  pickupTimeoutSeconds?: number;
  /** A picked-up order not finished in this time fails with expiredTransaction; default 180. */
  orderLifetimeSeconds?: number;
}

/**
 * A running simulated BankID: the RP API over mutual TLS, and the person's app as functions,
 * as a JSON control API and as a page. Every app action throws SimulatorError when the real
 * app could not do it (stale QR code, order not picked up, wrong person, ...).
 */
export interface BankIdSimulator {
  /** e.g. https://127.0.0.1:PORT/rp/v6.0, without a trailing slash. */
  apiUrl: string;
  /** e.g. http://127.0.0.1:PORT */
  controlUrl: string;
  /** The simulated app page; `${appUrl}?autostarttoken=<token>` is the launch link. */
  appUrl: string;
  scanQr(payload: string): void;
  openAutoStart(autoStartToken: string): void;
  /** `person` is an index into simulatedPersons or a personal number; default the first person. */
  approve(orderRef: string, person?: number | string, options?: { mrtd?: boolean }): void;
  userCancel(orderRef: string): void;
  /** A phone order: the person says yes, they are in a call with the service (then approve or cancel). */
  confirmCall(orderRef: string): void;
  /** A phone order: the person says they are not in a call with the service (failed, userDeclinedCall). */
  declineCall(orderRef: string): void;
  expire(orderRef: string): void;
  fail(orderRef: string, hintCode: string): void;
  /** The next `times` (default 1) requests to the endpoint get this fault. */
  injectFault(endpoint: RpEndpoint, fault: Fault, times?: number): void;
  /** The orders BankID knows: those running, and those finished a short while ago. */
  orders(): SimulatedOrderView[];
  /** The orders the service cancelled (`/cancel`) in the last five minutes, oldest first, with status `cancelled`. */
  cancelledOrders(): SimulatedOrderView[];
  orderByAutoStartToken(autoStartToken: string): string | undefined;
  /** Requests that reached the endpoint, or with `orderRef` those about that order. */
  callCount(endpoint: string, orderRef?: string): number;
  /** The last JSON body the endpoint received. */
  lastRequest(endpoint: string): unknown;
  close(): Promise<void>;
}

export async function startBankIdSimulator(options: SimulatorOptions): Promise<BankIdSimulator> {
  const { pki, host = '127.0.0.1' } = options;
  const book = new OrderBook({
    pickupTimeoutMs: (options.pickupTimeoutSeconds ?? 30) * 1000,
    lifetimeMs: (options.orderLifetimeSeconds ?? 180) * 1000,
  });
  const faults = new FaultQueue();
  const traffic = new RequestLog();
  const closing = new AbortController();

  const api = createHttpsServer(
    { cert: pki.server.cert, key: pki.server.key, ca: pki.clientCa, requestCert: true, rejectUnauthorized: true },
    rpApiHandler({ book, faults, traffic, closing: closing.signal }),
  );
  const control = createHttpServer(controlHandler(book, faults));
  const close = async () => {
    closing.abort();
    await Promise.all([stopServer(api), stopServer(control)]);
  };

  try {
    const apiPort = await listenOn(api, host, options.port ?? 0);
    const controlUrl = `http://${urlHost(host)}:${await listenOn(control, host, options.controlPort ?? 0)}`;
    return {
      apiUrl: `https://${urlHost(host)}:${apiPort}${RP_API_PATH}`,
      controlUrl,
      appUrl: `${controlUrl}/app`,
      scanQr: (payload) => book.scanQr(payload),
      openAutoStart: (autoStartToken) => book.openAutoStart(autoStartToken),
      approve: (orderRef, person, approveOptions) => book.approve(orderRef, person, approveOptions),
      userCancel: (orderRef) => book.userCancel(orderRef),
      confirmCall: (orderRef) => book.confirmCall(orderRef),
      declineCall: (orderRef) => book.declineCall(orderRef),
      expire: (orderRef) => book.expire(orderRef),
      fail: (orderRef, hintCode) => book.fail(orderRef, hintCode),
      injectFault: (endpoint, fault, times) => faults.inject(endpoint, fault, times),
      orders: () => book.views(),
      cancelledOrders: () => book.cancelledViews(),
      orderByAutoStartToken: (autoStartToken) => book.orderRefByAutoStartToken(autoStartToken),
      callCount: (endpoint, orderRef) => traffic.callCount(endpoint, orderRef),
      lastRequest: (endpoint) => traffic.lastRequest(endpoint),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
