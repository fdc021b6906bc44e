import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChildServer } from './process.js';
import { findFreePort } from './redis.js';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

/** A CGI script that shows what mod_auth_openidc handed the application: REMOTE_USER and the claims. */
const CLAIMS_SCRIPT = `#!/bin/sh
printf 'Content-Type: text/plain; charset=utf-8\\n\\n'
printf 'REMOTE_USER=%s\\n' "$REMOTE_USER"
env | grep '^OIDC_CLAIM_' | sort
`;

const LOGGED_OUT_SCRIPT = `#!/bin/sh
printf 'Content-Type: text/plain; charset=utf-8\\n\\nlogged out\\n'
`;

export interface ModAuthOpenidcSettings {
  issuer: string;
  clientId: string;
  /** None for a client that authenticates with its key (private_key_jwt). */
  clientSecret?: string;
  /** More mod_auth_openidc directives, one a line, for what a test looks at. */
  extra?: string[];
}

export interface ApacheRelyingParty {
  url: string;
  /** The redirect URI mod_auth_openidc handles (callback, logout). */
  redirectUri: string;
  loggedOutUrl: string;
  errorLog(): string;
}

/** Where Apache will listen, known before it starts, so that the client can be registered first. */
export async function apacheAddress(): Promise<{ url: string; redirectUri: string; loggedOutUrl: string }> {
  const url = `http://127.0.0.1:${await findFreePort()}`;
  return { url, redirectUri: `${url}/protected/redirect_uri`, loggedOutUrl: `${url}/logged-out` };
}

/**
 * Debian's Apache with Debian's mod_auth_openidc as a relying party: its own ServerRoot in a
 * temporary folder, run in the foreground as a child of the test, stopped after the file.
 * /protected/claims needs a login and echoes the claims from the environment; /logged-out
 * is where RP-initiated logout returns.
 */
export async function startApacheRelyingParty(address: { url: string; redirectUri: string; loggedOutUrl: string }, settings: ModAuthOpenidcSettings): Promise<ApacheRelyingParty> {
  const root = mkdtempSync(join(tmpdir(), 'neb-apache-'));
  // The CGI scripts run as www-data when Apache is started as root.
  chmodSync(root, 0o755);
  const cgi = join(root, 'cgi-bin');
  mkdirSync(cgi, { mode: 0o755 });
  writeFileSync(join(cgi, 'claims'), CLAIMS_SCRIPT, { mode: 0o755 });
  writeFileSync(join(cgi, 'logged-out'), LOGGED_OUT_SCRIPT, { mode: 0o755 });
  const port = new URL(address.url).port;
  const asRoot = process.getuid?.() === 0;
  const config = [
    `ServerRoot "${root}"`,
    'ServerName 127.0.0.1',
    `Listen 127.0.0.1:${port}`,
    `PidFile "${root}/httpd.pid"`,
    `DefaultRuntimeDir "${root}"`,
    `ErrorLog "${root}/error.log"`,
    'LogLevel warn auth_openidc:info',
    ...(asRoot ? ['User www-data', 'Group www-data'] : []),
    ...['mpm_prefork', 'authn_core', 'authz_core', 'authz_user', 'alias', 'cgi', 'auth_openidc'].map((name) => `LoadModule ${name}_module ${MODULES}/mod_${name}.so`),
    'StartServers 1',
    'MinSpareServers 1',
    'MaxSpareServers 2',
    `OIDCProviderMetadataURL ${settings.issuer}/.well-known/openid-configuration`,
    `OIDCClientID ${settings.clientId}`,
    ...(settings.clientSecret ? [`OIDCClientSecret ${settings.clientSecret}`] : []),
    `OIDCRedirectURI ${address.redirectUri}`,
    `OIDCCryptoPassphrase ${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('hex')}`,
    'OIDCPKCEMethod S256',
    'OIDCScope "openid profile personal_number eid"',
    'OIDCRemoteUserClaim sub',
    'OIDCPassClaimsAs environment',
    ...(settings.extra ?? []),
    `ScriptAlias /protected/claims "${cgi}/claims"`,
    `ScriptAlias /logged-out "${cgi}/logged-out"`,
    '<Location /protected>',
    '  AuthType openid-connect',
    '  Require valid-user',
    '</Location>',
    '',
  ].join('\n');
  const configFile = join(root, 'apache2.conf');
  writeFileSync(configFile, config);
  // Apache says nothing on success: it is ready once it answers.
  await startChildServer(APACHE, ['-f', configFile, '-DFOREGROUND'], { ready: new URL(address.loggedOutUrl) });
  return { ...address, errorLog: () => readFileSync(join(root, 'error.log'), 'utf8') };
}
