import { onTestFinished } from 'vitest';
import { createTestPki } from '../../providers/se-bankid/simulator/certificates.js';
import { startBankIdSimulator } from '../../providers/se-bankid/simulator/server.js';
import { bankIdSection } from '../../providers/se-bankid/test/support.js';
import { webClient } from './broker.js';
import { spawnBroker, writeConfig } from './process.js';
import { findFreePort, redisUrl } from './redis.js';

/**
 * The bundled broker as its own process on `node`, on Redis under `prefix`, with Swedish BankID
 * over mutual TLS to a simulator of its own; both stop when the calling test finishes.
 */
export async function spawnBankIdBroker(node: string, prefix: string, server: Record<string, unknown> = {}) {
  const pki = await createTestPki();
  const simulator = await startBankIdSimulator({ pki });
  onTestFinished(() => simulator.close());
  const port = await findFreePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config = { issuer, port, server, redis: { url: redisUrl, key_prefix: prefix }, clients: [webClient], eids: { 'se-bankid': bankIdSection(simulator, pki) } };
  const broker = spawnBroker({ BROKER_CONFIG: writeConfig('broker.json', JSON.stringify(config)) }, [], node);
  onTestFinished(() => broker.stop());
  await broker.listening();
  return { broker, simulator, issuer, port };
}
