import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient, type TestBroker } from '../support/broker.js';
import { tokenRequest } from '../support/http.js';
import { eventually } from '../support/ops.js';
import { openMonitor } from '../support/redis.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

/** A command as Redis ran it: its name, the key it names without the broker's prefix, and whether a script ran it. */
interface Ran {
  command: string;
  key: string;
  inScript: boolean;
}

let tb: TestBroker;
let monitor: Redis;
let ran: Ran[] = [];

beforeAll(async () => {
  tb = await startTestBroker({}, 'grant-commands');
  monitor = await openMonitor();
  // MONITOR sees every client of the shared Redis: only the commands on this broker's keys count.
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const [sent = '', ...rest] = args;
    // A script's first run on a connection (a new one after a reconnect too) is sent whole, as EVAL; after that by its hash: one command either way.
    const command = sent.toUpperCase() === 'EVAL' ? 'EVALSHA' : sent.toUpperCase();
    const named = command === 'EVALSHA' ? rest.slice(2) : rest;
    const key = named.find((arg) => arg.startsWith(tb.prefix));
    // The webhook deliveries' scheduler asks for due deliveries on a timer of its own (without endpoints, at its first tick and once a minute), whatever requests come.
    if (key?.startsWith(`${tb.prefix}webhooks:`)) return;
    // So does the store's reading of Redis's clock (on connecting, then once a minute).
    if (key === `${tb.prefix}clock`) return;
    if (key) ran.push({ command, key: key.slice(tb.prefix.length), inScript: source === 'lua' });
  });
});
afterAll(() => monitor?.disconnect());

/** The commands a request sends Redis, in order, the script's own commands after it. */
async function commandsOf(request: () => Promise<unknown>): Promise<Ran[]> {
  await settled();
  ran = [];
  await request();
  await settled();
  return ran;
}

let marks = 0;

/**
 * Once the audit events and rate-limit counts so far are in the store, and MONITOR (on a connection of its own)
 * has told of every command before: a read of a mark key on the broker's own connection comes
 * after them all, and is taken out again.
 */
async function settled(): Promise<void> {
  await tb.broker.audit.flush();
  await tb.broker.rateLimits.flush();
  const mark = `mark:${(marks += 1)}`;
  await tb.broker.store.get(mark);
  await eventually(() => ran.some((command) => command.key === mark));
  ran = ran.filter((command) => command.key !== mark);
}

const family = (key: string) => key.replace(/:[^:]+$/, ':…');
/** A rate limit's key without the window it counts in: `ratelimit:token:…:ip`. */
const counter = (key: string) => key.replace(/^(ratelimit:\w+):\d+:(\w+):.*$/, '$1:…:$2');
const isRateLimit = (command: Ran) => command.key.startsWith('ratelimit:');

describe('a refresh grant', () => {
  it('reads its account with its grant, sends no command twice, and counts its rate limits without a round trip of its own', async () => {
    const rp = await RelyingParty.discover(tb.issuer, webClient);
    const tokens = await rp.redeem(await logIn(rp, { scope: 'openid profile offline_access', prompt: 'consent' }));
    let answer: Awaited<ReturnType<typeof tokenRequest>> | undefined;
    const commands = await commandsOf(async () => {
      answer = await tokenRequest(tb.issuer, webClient, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
    });
    expect(answer?.status).toBe(200);
    expect(answer?.body.id_token).toEqual(expect.any(String));

    const grant = commands.filter((command) => !isRateLimit(command));
    const sent = grant.filter((command) => !command.inScript).map(({ command, key }) => `${command} ${family(key)}`);
    expect(sent).toEqual([
      'HGETALL oidc:RefreshToken:…',
      // The account as soon as the refresh token names it, before the grant: in its round trip.
      'HGETALL account:…',
      'HGETALL oidc:Grant:…',
      // The access token, after its grant's index.
      'EVALSHA oidc:grant:…',
      'EVALSHA oidc:AccessToken:…',
      // The audit event, in its batch's script.
      'EVALSHA audit:…',
    ]);
    const inScripts = grant.filter((command) => command.inScript).map(({ command, key }) => `${command} ${family(key)}`);
    // The batch's mark (in the stream's Cluster slot: the stream's full name its hash tag), then its entry.
    const batchMark = `SET {${tb.prefix}audit:events}:appended:…`;
    expect(inScripts).toEqual(['PTTL oidc:grant:…', 'SADD oidc:grant:…', 'HSET oidc:AccessToken:…', 'PEXPIRE oidc:AccessToken:…', batchMark, 'XADD audit:…']);

    // The address's and the client's counts were decided on at once and sent later, with any
    // others held then, in one script (its PEXPIREs, when the window is new, left out).
    const counted = commands.filter((command) => isRateLimit(command) && command.command !== 'PEXPIRE').map(({ command, key }) => `${command} ${counter(key)}`);
    expect(counted).toEqual(['EVALSHA ratelimit:token:…:ip', 'INCRBY ratelimit:token:…:ip', 'INCRBY ratelimit:token:…:client']);
  });
});
