import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSigningCertificate, createTestPki, type TestPki } from '../../shared/test-pki.js';
import { apiHandler, FaultQueue, Traffic, type Fault } from './api.js';
import { appHandler } from './app.js';
import { signingKeyOf, TransactionBook, type Tampering, type TransactionView } from './transactions.js';
import type { FrejaMethod } from '../api/types.js';
import { listenOn, stopServer } from '../../shared/simulator-server.js';

export interface FrejaSimulatorOptions {
  /** Default 127.0.0.1; both servers listen here. */
  host?: string;
  /** Port of the simulated app page and control API; default 0, any free port. */
  controlPort?: number;
  /** A transaction nobody finishes expires after this; default 120 s, as at Freja. */
  expirySeconds?: number;
}

/**
 * A running simulated Freja eID: the RP REST API over mutual TLS (with certificates made for
 * this run), results signed with a certificate of its own, and the person's app as functions,
 * a JSON control API and a page.
 */
export interface FrejaSimulator {
  /** e.g. https://127.0.0.1:PORT, without a trailing slash. */
  apiUrl: string;
  /** The simulated app page; `${appUrl}?transactionReference=<authRef>` is the launch link. */
  appUrl: string;
  controlUrl: string;
  /** The broker's side of the mutual TLS: the server CA to pin, and the RP certificate. */
  pki: TestPki;
  /** PEM of the certificate results are signed with: the broker's `jws_certificates`. */
  signingCertificate: string;
  scan(qr: string): void;
  open(authRef: string, returnUrl?: string): void;
  /** `person`: an index into simulatedPersons or a personal number; default the first person. */
  approve(authRef: string, person?: number | string, options?: { tampering?: Tampering }): void;
  decline(authRef: string): void;
  expire(authRef: string): void;
  reject(authRef: string): void;
  injectFault(method: FrejaMethod, fault: Fault, times?: number): void;
  transactions(): TransactionView[];
  callCount(method: FrejaMethod): number;
  /** The last request to the method: its JSON, its content type and its raw body. */
  lastRequest(method: FrejaMethod): { body: unknown; contentType: string | undefined; raw: string } | undefined;
  close(): Promise<void>;
}

export async function startFrejaSimulator(options: FrejaSimulatorOptions = {}): Promise<FrejaSimulator> {
  const host = options.host ?? '127.0.0.1';
  const [pki, signing, foreign] = await Promise.all([
    createTestPki({ upstream: 'Freja eID' }),
    createSigningCertificate('Simulated Freja eID JWS Signing'),
    createSigningCertificate('Someone else signing'),
  ]);
  const book = new TransactionBook({
    signing: signingKeyOf(signing),
    foreignSigning: signingKeyOf(foreign),
    expiryMs: (options.expirySeconds ?? 120) * 1000,
    retentionMs: 10 * 60_000,
  });
  const faults = new FaultQueue();
  const traffic = new Traffic();
  const api = createHttpsServer(
    { cert: pki.server.cert, key: pki.server.key, ca: pki.clientCa, requestCert: true, rejectUnauthorized: true },
    apiHandler(book, faults, traffic),
  );
  const control = createHttpServer(appHandler(book, faults));
  const close = () => Promise.all([stopServer(api), stopServer(control)]).then(() => undefined);
  try {
    const apiUrl = `https://${host}:${await listenOn(api, host, 0)}`;
    const controlUrl = `http://${host}:${await listenOn(control, host, options.controlPort ?? 0)}`;
    return {
      apiUrl,
      controlUrl,
      appUrl: `${controlUrl}/app`,
      pki,
      signingCertificate: signing.cert,
      scan: (qr) => book.scan(qr),
      open: (authRef, returnUrl) => book.open(authRef, returnUrl),
      approve: (authRef, person, approveOptions) => book.approve(authRef, person, approveOptions),
      decline: (authRef) => book.decline(authRef),
      expire: (authRef) => book.expire(authRef),
      reject: (authRef) => book.reject(authRef),
      injectFault: (method, fault, times) => faults.inject(method, fault, times),
      transactions: () => book.views(),
      callCount: (method) => traffic.calls.get(method) ?? 0,
      lastRequest: (method) => traffic.last.get(method),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

