import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type JWK, type JSONWebKeySet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient } from '../support/broker.js';
import { findFreePort, uniquePrefix } from '../support/redis.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

/**
 * The broker's own signing keys rotated as README's "Rotating the signing keys" says, one
 * configuration after the other on one issuer and one store, as instances restarted one by one
 * would run them: the new key published first, then signing, then the old one gone.
 */
async function privateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: 'ES256', use: 'sig', kid: await calculateJwkThumbprint(jwk) };
}

const folder = mkdtempSync(join(tmpdir(), 'neb-jwks-'));
let port: number;
const prefix = uniquePrefix('key-rotation');
let oldKey: JWK;
let newKey: JWK;

beforeAll(async () => {
  port = await findFreePort();
  [oldKey, newKey] = await Promise.all([privateJwk(), privateJwk()]);
});

/** One step of the rotation: a broker with `keys` in its jwks file, its JWKS, and an ID token it issued. */
async function step(name: string, keys: JWK[]): Promise<{ jwks: JSONWebKeySet; idToken: string }> {
  const path = join(folder, `${name}.json`);
  writeFileSync(path, JSON.stringify({ keys }));
  const tb = await startTestBroker({ port, jwks: path }, 'key-rotation', { prefix });
  try {
    const jwks = (await (await fetch(`${tb.issuer}/jwks`)).json()) as JSONWebKeySet;
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const tokens = await rp.redeem(await logIn(rp, { acr_values: 'urn:test:test-double' }));
    return { jwks, idToken: tokens.id_token! };
  } finally {
    await tb.close();
  }
}

const kids = (jwks: JSONWebKeySet) => jwks.keys.map((key) => key.kid);

describe("rotating the broker's signing keys", () => {
  it('publishes a key listed second before signing with it, signs with the first, and verifies earlier tokens until the old key goes', async () => {
    // 1. The new key after the old one: published, not yet signing.
    const published = await step('published', [oldKey, newKey]);
    expect(kids(published.jwks)).toEqual([oldKey.kid, newKey.kid]);
    expect(published.jwks.keys.every((key) => !('d' in key))).toBe(true);
    expect(decodeProtectedHeader(published.idToken).kid).toBe(oldKey.kid);

    // 2. The new key first: it signs; the old one is still published, so tokens it signed verify.
    const signing = await step('signing', [newKey, oldKey]);
    expect(kids(signing.jwks)).toEqual([newKey.kid, oldKey.kid]);
    expect(decodeProtectedHeader(signing.idToken).kid).toBe(newKey.kid);
    const verify = (token: string, jwks: JSONWebKeySet) => jwtVerify(token, createLocalJWKSet(jwks), { issuer: `http://127.0.0.1:${port}`, audience: webClient.client_id });
    await expect(verify(published.idToken, signing.jwks)).resolves.toBeTruthy();
    await expect(verify(signing.idToken, published.jwks)).resolves.toBeTruthy();

    // 3. The old key gone, once what it signed has expired.
    const retired = await step('retired', [newKey]);
    expect(kids(retired.jwks)).toEqual([newKey.kid]);
    await expect(verify(published.idToken, retired.jwks)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  }, 60_000);
});
