import { describe, expect, it } from 'vitest';
import { movedKeys } from '../../providers/index.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const client = { client_id: 'app', client_secret: 'x'.repeat(32), redirect_uris: ['https://app.example/cb'] };

const OPEN_REGISTRATION_UNBOUNDED =
  'registration.initial_access_token: false (open registration) needs the registration rate limit (rate_limits.enabled, rate_limits.registration.per_ip above 0), or registration needs a token';

/** The problems of `raw`, every one, in the order they are named. */
function problems(raw: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseConfig(raw, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('the configuration was accepted');
}

/** The first problem of `raw`: a misspelt key comes first, being the likeliest cause of the others. */
const problem = (raw: unknown, env: NodeJS.ProcessEnv = {}): string => problems(raw, env)[0]!;

describe('configuration', () => {
  it('open registration with its rate limit on, and registration with a token without one, are accepted', () => {
    expect(() => parseConfig({ registration: { enabled: true, initial_access_token: false } })).not.toThrow();
    expect(() => parseConfig({ registration: { enabled: true }, rate_limits: { enabled: false } })).not.toThrow();
    expect(() => parseConfig({ registration: { enabled: false, initial_access_token: false }, rate_limits: { registration: { per_ip: 0 } } })).not.toThrow();
  });

  it('an http issuer off this machine is refused once NODE_ENV is production; on this machine, or outside production, it is accepted', () => {
    const before = process.env.NODE_ENV;
    try {
      process.env.NODE_ENV = 'production';
      expect(problem({ issuer: 'http://id.example.com' })).toBe('issuer: must be https when NODE_ENV is production (http only on this machine)');
      for (const issuer of ['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000', 'https://id.example.com']) {
        expect(parseConfig({ issuer }).issuer).toBe(issuer);
      }
      process.env.NODE_ENV = 'development';
      expect(parseConfig({ issuer: 'http://broker:3000' }).issuer).toBe('http://broker:3000');
    } finally {
      process.env.NODE_ENV = before;
    }
  });

  it('fills in defaults for an empty file', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({ port: 3000, trust_proxy: false, clients: [], eids: {}, demo: false });
    expect(config.ttl.authorization_code).toBe(60);
    expect(config.redis).toBeUndefined();
  });

  it.each([
    [{ isuer: 'https://x' }, 'isuer: unknown key'],
    [{ port: 'eighty' }, 'port: '],
    [{ issuer: 'not a url' }, 'issuer: '],
    [{ issuer: 'https://id.example/' }, 'issuer: must not end with /'],
    [{ issuer: 'https://id.example/tenant' }, 'issuer: must have no path: the broker answers at the root of a host of its own'],
    [{ issuer: 'https://id.example?tenant=a' }, 'issuer: must have no query (?), fragment (#) or user name (@)'],
    [{ issuer: 'https://id.example/broker?' }, 'issuer: must have no query (?), fragment (#) or user name (@)'],
    [{ issuer: 'https://id.example/#x' }, 'issuer: must have no query (?), fragment (#) or user name (@)'],
    [{ issuer: 'https://ops:secret@id.example' }, 'issuer: must have no query (?), fragment (#) or user name (@)'],
    [{ issuer: 'ftp://id.example' }, 'issuer: must be an https URL (http only on this machine)'],
    [{ issuer: 'javascript:alert(1)' }, 'issuer: must be an https URL (http only on this machine)'],
    [{ trust_proxy: 'yes' }, 'trust_proxy: '],
    [{ redis: {} }, 'redis: set exactly one of url, sentinels or cluster'],
    [{ redis: { url: 'redis://a', cluster: [{ host: 'b', port: 1 }] } }, 'redis: set exactly one'],
    [{ redis: { url: 'http://a' } }, 'redis.url: must start with redis://'],
    [{ redis: { sentinels: [{ host: 'a', port: 26379 }] } }, 'redis.sentinel_name: sentinel_name is required'],
    [{ cookie_keys: ['short'] }, 'cookie_keys[0]: each key must be at least 32 characters'],
    [{ subject_secret: 'short' }, 'subject_secret: must be at least 32 characters'],
    [{ clients: [{ ...client, redirect_uris: undefined }] }, 'clients[0].redirect_uris: '],
    [{ clients: [{ ...client, client_secret: 'short' }] }, 'clients[0].client_secret: must be at least 32 characters'],
    [{ clients: [{ ...client, client_id: 'kundtjänst' }] }, 'clients[0].client_id: must be printable ASCII (RFC 6749)'],
    [{ clients: [{ ...client, client_secret: `hemlig-nyckel-för-butiken-${'x'.repeat(32)}` }] }, 'clients[0].client_secret: must be printable ASCII (RFC 6749)'],
    [{ clients: [{ ...client, token_endpoint_auth_method: 'none' }] }, 'clients[0].client_secret: a client with token_endpoint_auth_method none'],
    [{ clients: [{ ...client, client_secret: undefined, token_endpoint_auth_method: 'client_secret_post' }] }, 'clients[0].client_secret: is required'],
    [{ clients: [{ ...client, colour: 'red' }] }, 'clients[0].colour: unknown key'],
    [{ eids: { 'Se BankID': {} } }, 'eids.Se BankID: eID ids are lowercase'],
    [{ ui: { default_locale: 'de' } }, 'ui.default_locale: '],
  ])('%j is refused with "%s"', (raw, expected) => {
    expect(problem(raw)).toContain(expected);
  });

  it.each([
    [{ prot: 3000 }, 'prot: unknown key; did you mean port?'],
    [{ ui: { defualt_locale: 'sv' } }, 'ui.defualt_locale: unknown key; did you mean default_locale?'],
    [{ clients: [{ ...client, redirectUris: ['https://app.example/cb'] }] }, 'clients[0].redirectUris: unknown key; did you mean redirect_uris?'],
    // A misspelt key is named before the key it leaves missing: the missing one is not the mistake.
    [{ clients: [{ ...client, redirect_uris: undefined, redirect_uri: ['https://app.example/cb'] }] }, 'clients[0].redirect_uri: unknown key; did you mean redirect_uris?'],
    [{ server: { max_body_byte: 1, headers_timeout_seconds: 0 } }, 'server.max_body_byte: unknown key; did you mean max_body_bytes?'],
    [{ colour: 'red' }, 'colour: unknown key'],
    [{ port: 'eighty' }, 'port: must be a number, not a string'],
    // Any free port, while the issuer it makes for itself would say :0: every URL it hands out would be wrong.
    [{ port: 0 }, 'port: 0 (any free port) needs an issuer: the broker would not know its own address'],
    // YAML's .inf, or 1e400 in the admin API's JSON.
    [{ port: Infinity }, 'port: must be a number, not an infinite one'],
    [{ port: 80.5 }, 'port: must be a whole number, not 80.5'],
    [{ port: NaN }, 'port: must be a number'],
    [{ trust_proxy: 'yes' }, 'trust_proxy: must be true or false or a number, not a string'],
    [{ ui: { default_locale: 'de' } }, 'ui.default_locale: must be one of "sv", "en", "nb", "fi", "da"'],
    [{ ui: { default_locale: 'SV' } }, 'ui.default_locale: must be one of "sv", "en", "nb", "fi", "da"; did you mean "sv"?'],
    [{ ui: { support_email: 'nobody' } }, 'ui.support_email: must be an email address'],
    [{ clients: [{ ...client, redirect_uris: undefined }] }, 'clients[0].redirect_uris: is required'],
    [{ clients: [{ ...client, redirect_uris: [] }] }, 'clients[0].redirect_uris: must not be empty'],
    // Open registration is an unauthenticated write: without its rate limit nothing bounds it.
    [{ registration: { enabled: true, initial_access_token: false }, rate_limits: { enabled: false } }, OPEN_REGISTRATION_UNBOUNDED],
    [{ registration: { enabled: true, initial_access_token: false }, rate_limits: { registration: { per_ip: 0 } } }, OPEN_REGISTRATION_UNBOUNDED],
  ])('%j is explained in plain words: "%s"', (raw, expected) => {
    expect(problem(raw)).toBe(expected);
  });

  it.each(['auth', 'eid_start', 'logout'])(
    'a per-client limit on %s, which anyone may call naming any client, stops the start-up naming the key; 0 is taken',
    (limit) => {
      expect(problem({ rate_limits: { [limit]: { per_ip: 10, per_client: 100 } } })).toBe(
        `rate_limits.${limit}.per_client: is no longer accepted: these requests do not prove which client sends them, so a per-client limit would let anyone use up the client's allowance. They are limited per address (per_ip) only: remove per_client`,
      );
      expect(parseConfig({ rate_limits: { [limit]: { per_ip: 10, per_client: 0 } } }).rate_limits[limit as 'auth']).toEqual({ per_ip: 10, per_client: 0 });
      expect(parseConfig({ rate_limits: { token: { per_client: 100 } } }).rate_limits.token).toEqual({ per_ip: 1200, per_client: 100 });
    },
  );

  it.each([
    [{ ui: { qr_size: 280 } }, 'ui.qr_size: moved to eids.se-bankid.qr_size (and eids.se-freja.qr_size); set it there instead'],
    [{ ui: { show_qr_help: false } }, 'ui.show_qr_help: moved to eids.se-bankid.show_qr_help (and eids.se-freja.show_qr_help); set it there instead'],
  ])("a key that moved to an eID's own section, %j, is refused with where it is now", (raw, expected) => {
    expect(() => parseConfig(raw, {}, movedKeys)).toThrow(new ConfigError(expected));
  });

  it('takes ${NAME} values from the environment, so secrets stay out of the file', () => {
    const config = parseConfig(
      { subject_secret: '${SUBJECT}', clients: [{ ...client, client_secret: '${APP_SECRET}' }] },
      { SUBJECT: 's'.repeat(40), APP_SECRET: 'a'.repeat(40) },
    );
    expect(config.subject_secret).toBe('s'.repeat(40));
    expect(config.clients[0]!.client_secret).toBe('a'.repeat(40));
  });

  it('names the key whose environment variable is missing, and nothing more of it', () => {
    expect(problems({ clients: [{ ...client, client_secret: '${APP_SECRET}' }] })).toEqual(['clients[0].client_secret: environment variable APP_SECRET is not set']);
  });

  it('names every problem at once, a misspelt key first, each by its full key', () => {
    expect(problems({ prot: 3000, ui: { default_locale: 'de' }, clients: [{ client_id: 'app', client_secret: 'short', redirect_uri: ['https://app.example/cb'] }], subject_secret: '${SUBJECT}' })).toEqual([
      'subject_secret: environment variable SUBJECT is not set',
      'clients[0].redirect_uri: unknown key; did you mean redirect_uris?',
      'prot: unknown key; did you mean port?',
      'clients[0].client_secret: must be at least 32 characters',
      'clients[0].redirect_uris: is required',
      'ui.default_locale: must be one of "sv", "en", "nb", "fi", "da"',
    ]);
  });

  it('leaves other strings alone', () => {
    expect(parseConfig({ subject_secret: 'not ${A} reference but long enough ok' }, {}).subject_secret).toContain('${A}');
  });
});
