import { readFileSync } from 'node:fs';
import type { webcrypto } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { ConfigError, sharedValue, SIMULATOR_KEY_LIFETIME_MS, simulatorCached, type Logger, type Store } from '../../src/eids/sdk.js';

/**
 * The broker's own keys towards one upstream eID: a signing key (private_key_jwt client
 * assertions, signed request objects) and an encryption key (ID tokens and userinfo encrypted
 * to the broker) — separate keys, as FTN requires. Only their public halves leave the server,
 * at /eid/<id>/jwks.json.
 */
export interface UpstreamKeys {
  signing: { key: webcrypto.CryptoKey; kid: string; alg: string };
  decryption: Array<{ key: webcrypto.CryptoKey; kid: string; alg: string }>;
  publicJwks: { keys: JWK[] };
}

const SIGNING_ALG = 'RS256';
const ENCRYPTION_ALG = 'RSA-OAEP-256';

async function generateKey(use: 'sig' | 'enc'): Promise<JWK> {
  const alg = use === 'sig' ? SIGNING_ALG : ENCRYPTION_ALG;
  const { privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use, kid: await calculateJwkThumbprint(jwk) };
}

function readPrivateJwks(path: string, key: string): JWK[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${key}: cannot read a JWKS from ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new ConfigError(`${key}: ${path} is not a JWKS`);
  return keys as JWK[];
}

function pick(keys: JWK[], use: 'sig' | 'enc', key: string): JWK[] {
  const found = keys.filter((jwk) => jwk.use === use);
  found.forEach((jwk, i) => {
    if (!jwk.d || !jwk.kid || !jwk.alg) throw new ConfigError(`${key}: the ${use} key #${i + 1} needs d, kid and alg`);
  });
  return found;
}

/**
 * From `private_jwks` (one `use: sig` key and at least one `use: enc` key), or — outside
 * production — generated once and kept in the store, so every instance uses the same ones.
 */
export async function loadUpstreamKeys(options: {
  id: string;
  privateJwksPath: string | undefined;
  store: Store;
  log: Logger;
  production: boolean;
  /** The upstream is the broker's own simulator. */
  simulated: boolean;
}): Promise<UpstreamKeys> {
  const configKey = `eids.${options.id}.private_jwks`;
  let jwks: JWK[];
  if (options.privateJwksPath) {
    jwks = readPrivateJwks(options.privateJwksPath, configKey);
  } else {
    if (options.production) throw new ConfigError(`${configKey}: is required in a production configuration`);
    options.log.warn('no private_jwks: using keys generated for this eID and kept in the store (development only)');
    const generate = async () => JSON.stringify({ keys: await Promise.all([generateKey('sig'), generateKey('enc')]) });
    // Towards a simulated upstream the keys protect nothing: kept on disk, so a start without a
    // shared store does not make them again.
    const stored = await sharedValue(options.store, 'upstream-client', () =>
      options.simulated ? simulatorCached(`upstream-client-${options.id}`, generate, () => Date.now() + SIMULATOR_KEY_LIFETIME_MS) : generate(),
    );
    jwks = (JSON.parse(stored) as { keys: JWK[] }).keys;
  }
  const [signing] = pick(jwks, 'sig', configKey);
  if (!signing) throw new ConfigError(`${configKey}: has no key with use "sig"`);
  const encryption = pick(jwks, 'enc', configKey);
  const load = async (jwk: JWK) => ({ key: (await importJWK(jwk, jwk.alg)) as webcrypto.CryptoKey, kid: jwk.kid!, alg: jwk.alg! });
  const publicHalf = ({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest }: JWK) => rest;
  return {
    signing: await load(signing),
    decryption: await Promise.all(encryption.map(load)),
    publicJwks: { keys: [signing, ...encryption].map(publicHalf) },
  };
}
