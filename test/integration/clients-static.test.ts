import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createBroker } from '../../src/broker.js';
import { checkConfig } from '../../src/config/check.js';
import { ConfigError } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { testDoubleEid } from '../support/test-double-eid.js';

/** Clients of the configuration file keep the same rules; a broken one stops the start-up, before any eID starts. */

const base = { client_id: 'a', client_secret: 's'.repeat(32), redirect_uris: ['https://a.example/cb'] };

/** Builds a broker on the in-memory store, and returns what it logged at warn level and above. */
async function build(config: ConfigInput): Promise<string> {
  let logged = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged += chunk.toString();
      done();
    },
  });
  const checked = await checkConfig({ eids: { 'test-double': {} }, ...config }, { 'test-double': testDoubleEid });
  const broker = await createBroker(checked, { log: pino({ level: 'warn' }, sink) });
  await broker.close();
  return logged;
}

describe('static clients', () => {
  it.each([
    [{ redirect_uris: ['http://a.example/cb'] }, 'clients[0].redirect_uris[0]: must use https'],
    [{ redirect_uris: ['https://a.example/cb '] }, 'clients[0].redirect_uris[0]: a URL parser reads it as https://a.example/cb:'],
    [{ post_logout_redirect_uris: ['https://a.example\\bye'] }, 'clients[0].post_logout_redirect_uris[0]: a URL parser reads it as https://a.example/bye:'],
    [{ logo_uri: 'https://a.example/logo.png', post_logout_redirect_uris: ['http://a.example/'] }, 'clients[0].post_logout_redirect_uris[0]: must use https'],
    [{ application_type: 'native' as const, redirect_uris: ['com.example.a:/cb'] }, 'clients[0].token_endpoint_auth_method: a native app cannot keep a secret'],
    [{ allowed_eids: ['se-bankid'] }, 'clients[0].allowed_eids[0]: no eID se-bankid is configured (configured: test-double)'],
    [{ bankid_requirement: { pinCode: true } }, 'clients[0].bankid_requirement: unknown key'],
    [{ redirect_uri: ['https://a.example/cb'] }, 'clients[0].redirect_uri: unknown key; did you mean redirect_uris?'],
    [{ 'client_name#sv': '' }, 'clients[0].client_name#sv: must not be empty'],
    [{ 'logo_uri#fi': 'http://a.example/logo.png' }, 'clients[0].logo_uri#fi: must be an https URL'],
    [{ 'client_name#de': 'A' }, "clients[0].client_name#de: the broker's pages are in sv, en, nb, fi, da only, so client_name in another language would never be shown: leave it out"],
    [{ 'client_name#sv': 'A', 'client_name#sv-FI': '' }, 'clients[0].client_name#sv-FI: must not be empty'],
    [{ 'client_name#sv_SE': 'A' }, 'clients[0].client_name#sv_SE: not a language tag as RFC 5646 writes one: client_name#sv-SE'],
  ])('%j stops the start-up: "%s"', async (change, message) => {
    await expect(build({ clients: [{ ...base, ...change }] })).rejects.toThrow(ConfigError);
    await expect(build({ clients: [{ ...base, ...change }] })).rejects.toThrow(message);
  });

  it('a native app with a private-use scheme and no secret starts', async () => {
    await expect(build({ clients: [{ client_id: 'app', application_type: 'native' as const, redirect_uris: ['com.example.app:/cb'] }] })).resolves.toBeDefined();
  });
});

describe('start-up warnings', () => {
  it('the in-memory store says that clients created at runtime vanish on restart', async () => {
    const logged = await build({});
    expect(logged).toContain('clients created at runtime (admin API, dynamic registration) are kept in the in-memory store too: they vanish on restart');
  });

  it('open registration is warned about', async () => {
    const logged = await build({ registration: { enabled: true, initial_access_token: false } });
    expect(logged).toContain('dynamic client registration is open');
  });

  it('so is registration that needs issued tokens while nothing can issue them', async () => {
    expect(await build({ registration: { enabled: true } })).toContain('nobody can register');
    expect(await build({ registration: { enabled: true }, admin: { token: 't'.repeat(32) } })).not.toContain('nobody can register');
  });
});
