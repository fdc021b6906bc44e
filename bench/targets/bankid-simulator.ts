import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { TestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator } from '../../providers/se-bankid/simulator/server.js';

/**
 * The Swedish BankID simulator in a process of its own, as BankID is another server for the
 * broker. Beside the simulator's RP API (mutual TLS) it answers two bench calls on loopback:
 *
 * - POST /approve {"qr": "<payload>"}: the person's phone scans this QR code and approves at once.
 * - GET /stats: how many calls each RP API endpoint has had.
 *
 * Input (argv[2], JSON): { pkiFile, pickupTimeoutSeconds }. Prints one JSON line when ready.
 */
interface Input {
  pkiFile: string;
  pickupTimeoutSeconds: number;
}

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const pki = JSON.parse(readFileSync(input.pkiFile, 'utf8')) as TestPki;
const simulator = await startBankIdSimulator({ pki, pickupTimeoutSeconds: input.pickupTimeoutSeconds });

async function body(request: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of request) text += String(chunk);
  return text;
}

function approve(qr: string): string {
  const qrStartToken = qr.split('.')[1];
  const order = simulator.orders().find((candidate) => candidate.qrStartToken === qrStartToken);
  if (!order) throw new Error('no order shows this QR code');
  simulator.scanQr(qr);
  simulator.approve(order.orderRef);
  return order.orderRef;
}

const bench = createServer((request, response) => {
  const reply = (status: number, value: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(value));
  };
  void (async () => {
    try {
      if (request.method === 'POST' && request.url === '/approve') {
        const { qr } = JSON.parse(await body(request)) as { qr: string };
        reply(200, { orderRef: approve(qr) });
      } else if (request.method === 'GET' && request.url === '/stats') {
        reply(200, Object.fromEntries(['auth', 'collect', 'cancel'].map((endpoint) => [endpoint, simulator.callCount(endpoint)])));
      } else {
        reply(404, { error: 'not found' });
      }
    } catch (error) {
      reply(400, { error: (error as Error).message });
    }
  })();
});
bench.listen(0, '127.0.0.1');
await once(bench, 'listening');
const benchUrl = `http://127.0.0.1:${(bench.address() as AddressInfo).port}`;

process.once('SIGTERM', () => {
  bench.closeAllConnections();
  bench.close();
  void simulator.close().then(() => process.exit(0));
});
console.log(JSON.stringify({ ready: true, apiUrl: simulator.apiUrl, benchUrl }));
