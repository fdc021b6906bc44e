import type { webcrypto } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { readSettingFile, sharedValue, SIMULATOR_KEY_LIFETIME_MS, simulatorCached, type ConfigIssue, type Logger, type Store } from '../../src/eids/sdk.js';

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

/** What is wrong with a private JWKS's keys: each needs d, kid and alg, and one must sign. */
function jwksProblem(jwks: JWK[]): string | undefined {
  for (const use of ['sig', 'enc'] as const) {
    const incomplete = jwks.filter((jwk) => jwk.use === use).findIndex((jwk) => !jwk.d || !jwk.kid || !jwk.alg);
    if (incomplete >= 0) return `the ${use} key #${incomplete + 1} needs d, kid and alg`;
  }
  return jwks.some((jwk) => jwk.use === 'sig') ? undefined : 'has no key with use "sig"';
}

/** The keys of a private JWKS (checked by jwksProblem): the first `use: sig` one signs, every `use: enc` one decrypts. */
async function keysOf(jwks: JWK[]): Promise<UpstreamKeys> {
  const signing = jwks.find((jwk) => jwk.use === 'sig')!;
  const encryption = jwks.filter((jwk) => jwk.use === 'enc');
  const load = async (jwk: JWK) => ({ key: (await importJWK(jwk, jwk.alg)) as webcrypto.CryptoKey, kid: jwk.kid!, alg: jwk.alg! });
  const publicHalf = ({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest }: JWK) => rest;
  return {
    signing: await load(signing),
    decryption: await Promise.all(encryption.map(load)),
    publicJwks: { keys: [signing, ...encryption].map(publicHalf) },
  };
}

/**
 * The keys of the `private_jwks` file (one `use: sig` key and at least one `use: enc` key), read
 * and imported in the eID's check; undefined with the problem added to `issues`.
 */
export async function readUpstreamKeys(file: string, issues: ConfigIssue[]): Promise<UpstreamKeys | undefined> {
  const problem = (message: string) => (issues.push({ path: ['private_jwks'], message }), undefined);
  const content = readSettingFile(file, ['private_jwks'], issues);
  if (!content) return undefined;
  let keys: unknown;
  try {
    keys = (JSON.parse(content.toString()) as { keys?: unknown }).keys;
  } catch {
    return problem(`${file} is not JSON`);
  }
  if (!Array.isArray(keys)) return problem(`${file} is not a JWKS`);
  const wrong = jwksProblem(keys as JWK[]);
  if (wrong) return problem(wrong);
  try {
    return await keysOf(keys as JWK[]);
  } catch (err) {
    return problem(`cannot be used (${(err as Error).message})`);
  }
}

/**
 * Keys generated once and kept in the store, so every instance uses the same ones: outside
 * production, when `private_jwks` is not set.
 */
export async function generatedUpstreamKeys(options: {
  id: string;
  store: Store;
  log: Logger;
  /** The upstream is the broker's own simulator. */
  simulated: boolean;
}): Promise<UpstreamKeys> {
  options.log.warn('no private_jwks: using keys generated for this eID and kept in the store (development only)');
  const generate = async () => JSON.stringify({ keys: await Promise.all([generateKey('sig'), generateKey('enc')]) });
  // Towards a simulated upstream the keys protect nothing: kept on disk, so a start without a
  // shared store does not make them again.
  const stored = await sharedValue(options.store, 'upstream-client', () =>
    options.simulated ? simulatorCached(`upstream-client-${options.id}`, generate, () => Date.now() + SIMULATOR_KEY_LIFETIME_MS) : generate(),
  );
  return keysOf((JSON.parse(stored) as { keys: JWK[] }).keys);
}
