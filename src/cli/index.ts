import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AdminClient, ApiError, UnreachableError } from './http.js';
import { format, printable, printClient, printList } from './output.js';

/**
 * `nordic-eid-broker clients …`: client administration from the command line, through a running
 * broker's admin API. Exit codes:
 *   0  done
 *   1  the broker refused (an HTTP error: bad metadata, unknown client, wrong token …)
 *   2  usage error: unknown command or option, a missing argument, no URL or token
 *   3  the broker cannot be reached (connection refused, DNS, TLS, time-out), or what answers is not its admin API
 */
export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3 } as const;

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
}

const defaultIo: CliIo = {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

class UsageError extends Error {}

const connectionOptions = {
  url: { type: 'string' },
  token: { type: 'string' },
  'allow-plain-http': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

/** Flags that set one metadata field each, by flag name. */
const fieldFlags: Record<string, { field: string; multiple?: true }> = {
  type: { field: 'application_type' },
  'auth-method': { field: 'token_endpoint_auth_method' },
  'redirect-uri': { field: 'redirect_uris', multiple: true },
  'post-logout-redirect-uri': { field: 'post_logout_redirect_uris', multiple: true },
  name: { field: 'display_name' },
  'logo-uri': { field: 'logo_uri' },
  eid: { field: 'allowed_eids', multiple: true },
  acr: { field: 'allowed_acr_values', multiple: true },
  locale: { field: 'default_ui_locales', multiple: true },
  'subject-type': { field: 'subject_type' },
};

/** Flag pairs (--x / --no-x) that set one boolean metadata field each, by flag name. */
const booleanFlags: Record<string, string> = {
  'refresh-tokens-without-consent': 'refresh_tokens_without_consent',
  'return-to-picker': 'return_to_picker',
};

const metadataOptions = {
  ...Object.fromEntries(Object.entries(fieldFlags).map(([flag, { multiple }]) => [flag, { type: 'string', multiple: Boolean(multiple) }])),
  ...Object.fromEntries(Object.keys(booleanFlags).flatMap((flag) => [[flag, { type: 'boolean' }], [`no-${flag}`, { type: 'boolean' }]])),
  public: { type: 'boolean' },
  'refresh-tokens': { type: 'boolean' },
  'no-refresh-tokens': { type: 'boolean' },
  metadata: { type: 'string' },
} satisfies ParseArgsConfig['options'];

const USAGE = `Usage: nordic-eid-broker clients <command> [options]

Manages the broker's clients through its admin API.

Commands:
  list                        every client, static and registered
  show <client_id>            one client (never its secret)
  add [metadata options]      register a client; prints its secret, once
  update <client_id> [...]    change the fields given; the others stay
  remove <client_id>          delete a registered client
  rotate-secret <client_id>   replace a client's secret; prints the new one, once

Connection:
  --url URL       the broker, e.g. https://id.example.com     (or BROKER_ADMIN_URL)
  --token TOKEN   the admin token, admin.token                  (or BROKER_ADMIN_TOKEN;
                  prefer the environment: a flag shows in the process list)
  --allow-plain-http
                  send the token over http to a host that is not this machine;
                  without it such a URL is refused (use https)
Output:
  --json          print the API's JSON answer

Metadata options (add, update):
  --redirect-uri URI               repeat for several; update replaces the list
  --post-logout-redirect-uri URI   repeat for several
  --type web|native                application_type (default web)
  --public                         no secret: a public client, PKCE only (SPAs, mobile apps)
  --auth-method METHOD             token_endpoint_auth_method
  --name NAME                      display_name, shown to the person
  --logo-uri URL                   https only
  --eid ID                         allowed_eids, repeat for several
  --acr VALUE                      allowed_acr_values, repeat for several
  --locale LOCALE                  default_ui_locales: sv, en, nb, fi or da
  --subject-type public|pairwise
  --refresh-tokens / --no-refresh-tokens
  --refresh-tokens-without-consent / --no-refresh-tokens-without-consent
                                   a refresh token with every login, without
                                   offline_access and prompt=consent
  --return-to-picker / --no-return-to-picker
                                   after a failed or cancelled eID, back to the
                                   picker (default) or the error at the client
  --metadata JSON|@FILE            any other metadata, e.g. '{"bankid_requirement":{"pinCode":true}}'
                                   (the options above win over it)
  --id CLIENT_ID                   add only: choose the client_id (default: generated)
list:
  --limit N                        at most N clients (default: all)

Exit codes: 0 done, 1 refused by the broker, 2 usage error, 3 broker unreachable.
`;

interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

function parse(argv: string[], options: ParseArgsConfig['options']): Parsed {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as Parsed;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function clientIdArgument(command: string, positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes one client_id`);
  return positionals[0]!;
}

function readMetadataOption(value: string): Record<string, unknown> {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (err) {
      throw new UsageError(`--metadata: cannot read ${value.slice(1)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError('--metadata: not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--metadata: must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** The metadata the options give: --metadata first, then each field option over it. */
function metadataOf(values: Parsed['values']): Record<string, unknown> {
  const metadata = typeof values.metadata === 'string' ? readMetadataOption(values.metadata) : {};
  for (const [flag, { field }] of Object.entries(fieldFlags)) {
    if (values[flag] !== undefined) metadata[field] = values[flag];
  }
  if (values.public) {
    if (values['auth-method'] && values['auth-method'] !== 'none') throw new UsageError('--public and --auth-method contradict each other');
    metadata.token_endpoint_auth_method = 'none';
  }
  if (values['refresh-tokens'] && values['no-refresh-tokens']) throw new UsageError('--refresh-tokens and --no-refresh-tokens contradict each other');
  if (values['refresh-tokens']) metadata.grant_types = ['authorization_code', 'refresh_token'];
  if (values['no-refresh-tokens']) metadata.grant_types = ['authorization_code'];
  for (const [flag, field] of Object.entries(booleanFlags)) {
    const [on, off] = [values[flag], values[`no-${flag}`]];
    if (on && off) throw new UsageError(`--${flag} and --no-${flag} contradict each other`);
    if (on || off) metadata[field] = Boolean(on);
  }
  return metadata;
}

function connection(values: Parsed['values'], io: CliIo): AdminClient {
  const url = (values.url as string | undefined) ?? io.env.BROKER_ADMIN_URL;
  const token = (values.token as string | undefined) ?? io.env.BROKER_ADMIN_TOKEN;
  if (!url) throw new UsageError("the broker's URL is missing: --url or BROKER_ADMIN_URL");
  if (!token) throw new UsageError('the admin token is missing: --token or BROKER_ADMIN_TOKEN');
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new UsageError(`--url: ${url} is not a URL`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new UsageError('--url: must be an http or https URL');
  if (base.protocol === 'http:' && !isLoopback(base.hostname)) plainHttpAllowed(base, values, io);
  return new AdminClient(base, token);
}

/** This machine: the names and addresses of loopback, where plain http leaves nothing to read on the way. */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * The admin token grants every client and secret: over plain http beyond this machine anyone on
 * the way reads it. Refused unless the operator says, with --allow-plain-http, that the way is
 * theirs (a private network, a tunnel); then still said, on every run.
 */
function plainHttpAllowed(base: URL, values: Parsed['values'], io: CliIo): void {
  if (!values['allow-plain-http']) {
    throw new UsageError(
      `--url: http://${base.host} is plain http to another machine, which would send the admin token unencrypted for anyone on the way to read. Use https, or, only if the network between is yours (a private network, a tunnel), pass --allow-plain-http`,
    );
  }
  io.err(`warning: the admin token goes over plain http to ${base.host} (--allow-plain-http)\n`);
}

type Command = (client: AdminClient, parsed: Parsed, io: CliIo) => Promise<void>;

const print = (io: CliIo, parsed: Parsed, body: unknown, human: () => string) =>
  io.out(parsed.values.json ? `${JSON.stringify(body, null, 2)}\n` : human());

const secretNote = (secret: unknown) =>
  typeof secret === 'string' ? `client_secret: ${secret}\nKeep it now: the broker never shows it again.\n` : '';

const commands: Record<string, { options: ParseArgsConfig['options']; run: Command }> = {
  list: {
    options: { limit: { type: 'string' } },
    async run(client, parsed, io) {
      if (parsed.positionals.length) throw new UsageError('list takes no arguments');
      const limitText = parsed.values.limit as string | undefined;
      // Digits only, as the admin API takes its limit: Number() would take "Infinity", "1e1" and "0x10".
      if (limitText !== undefined && !/^[0-9]+$/.test(limitText)) throw new UsageError('--limit: must be a whole number, in digits');
      const limit = limitText === undefined ? Infinity : Number(limitText);
      if (limit < 1) throw new UsageError('--limit: must be at least 1');
      const clients = await client.listAll(limit);
      print(io, parsed, { clients }, () => printList(clients));
    },
  },
  show: {
    options: {},
    async run(client, parsed, io) {
      const id = clientIdArgument('show', parsed.positionals);
      const body = await client.client('GET', `/admin/clients/${encodeURIComponent(id)}`);
      print(io, parsed, body, () => printClient(body as Record<string, unknown>));
    },
  },
  add: {
    options: { ...metadataOptions, id: { type: 'string' } },
    async run(client, parsed, io) {
      if (parsed.positionals.length) throw new UsageError(`add takes options only (did you mean --id ${parsed.positionals[0]}?)`);
      const metadata = metadataOf(parsed.values);
      if (typeof parsed.values.id === 'string') metadata.client_id = parsed.values.id;
      if (metadata.redirect_uris === undefined) throw new UsageError('add needs at least one --redirect-uri');
      const body = await client.client('POST', '/admin/clients', metadata);
      print(io, parsed, body, () => `Added client ${format(body.client_id)}.\n${secretNote(body.client_secret)}\n${printClient(body)}`);
    },
  },
  update: {
    options: metadataOptions,
    async run(client, parsed, io) {
      const id = clientIdArgument('update', parsed.positionals);
      const patch = metadataOf(parsed.values);
      if (!Object.keys(patch).length) throw new UsageError('update needs at least one option to change');
      const body = await client.client('PATCH', `/admin/clients/${encodeURIComponent(id)}`, patch);
      print(io, parsed, body, () => `Updated client ${id}.\n${secretNote(body.client_secret)}\n${printClient(body)}`);
    },
  },
  remove: {
    options: {},
    async run(client, parsed, io) {
      const id = clientIdArgument('remove', parsed.positionals);
      // The admin API answers a removal with 204 and no body; anything else is some other server.
      if ((await client.request('DELETE', `/admin/clients/${encodeURIComponent(id)}`)) !== undefined) throw client.notTheBroker('answered the removal with a body');
      print(io, parsed, { client_id: id, removed: true }, () => `Removed client ${id}.\n`);
    },
  },
  'rotate-secret': {
    options: {},
    async run(client, parsed, io) {
      const id = clientIdArgument('rotate-secret', parsed.positionals);
      const body = await client.client('POST', `/admin/clients/${encodeURIComponent(id)}/rotate-secret`);
      print(io, parsed, body, () => `New secret for ${id}; the old one no longer works.\n${secretNote(body.client_secret)}`);
    },
  },
};

/** Runs `clients <argv…>`; resolves with the exit code. */
export async function runCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(USAGE);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`unknown command ${name} (commands: ${Object.keys(commands).join(', ')})`);
    const parsed = parse(rest, { ...connectionOptions, ...command.options });
    if (parsed.values.help) {
      io.out(USAGE);
      return EXIT.ok;
    }
    await command.run(connection(parsed.values, io), parsed, io);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}\nRun "nordic-eid-broker clients --help" for the commands and options.\n`);
      return EXIT.usage;
    }
    if (err instanceof ApiError) {
      io.err(`error: ${printable(err.message)}\n`);
      return EXIT.refused;
    }
    if (err instanceof UnreachableError) {
      io.err(`error: ${printable(err.message)}\n`);
      return EXIT.unreachable;
    }
    throw err;
  }
}
