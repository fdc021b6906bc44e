import { openBed, type RunningServer } from '../lib/bed.js';
import { approve, authorizationRequest, LOGIN_SCOPE, pollBankId, redeem, startBankId, userinfo, type BankIdAnswer } from '../lib/flows.js';
import { Browser, header, keepAliveAgent } from '../lib/http.js';
import { readOptions } from '../lib/options.js';
import { cpuSeconds } from '../lib/proc.js';
import { stopAll } from '../lib/processes.js';
import { openBenchRedis, type BenchRedis } from '../lib/redis.js';
import { median } from '../lib/stats.js';
import type { Dispatcher } from 'undici';

/**
 * Where a login's server CPU and Redis commands go, request by request. N people log in on the
 * broker (Swedish BankID, as the login scenario), on bare oidc-provider (instant login) and on
 * bare oidc-provider doing a minimal BankID integration's work (bare-bankid), in phases: every
 * login makes its first request, then every login its second, and so on, 10 at a time. The
 * server's CPU (from /proc) and Redis's command count over a phase, divided by N, are that
 * request's share of a login. Rounds alternate the servers' order; medians are printed.
 *
 *   npx tsc -b bench/tsconfig.build.json && node node_modules/.cache/nordic-eid-bench/bench/tools/login-steps.js [N] [rounds]
 *
 * BENCH_NODE and BENCH_PROFILE (CPU profiles in bench/profiles) work as for `npm run bench`.
 */

interface Login {
  browser: Browser;
  verifier: string;
  /** Where the last answer sent the browser. */
  next: string;
  uid: string;
  started?: BankIdAnswer;
  code: string;
  accessToken: string;
  /** Why the login failed (a busy machine: a 503, a timeout); it takes no further step. */
  failed?: string;
}

interface Step {
  name: string;
  run: (login: Login) => Promise<void>;
}

const CONCURRENCY = 10;

async function inTurns<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** One request that the server answers with a redirect; the login goes on where it points. */
async function hop(login: Login, url: string): Promise<void> {
  const answer = await login.browser.request(url);
  const location = header(answer, 'location');
  if (!location) throw new Error(`${url} answered ${answer.status} without a redirect: ${answer.text.slice(0, 200)}`);
  login.next = location;
}

function steps(server: RunningServer, dispatcher: Dispatcher): Step[] {
  const { target } = server;
  const oidcStart: Step[] = [
    {
      name: 'GET /auth',
      run: async (login) => {
        const request = authorizationRequest(target, LOGIN_SCOPE, {});
        login.verifier = request.verifier;
        await hop(login, request.url.href);
      },
    },
    {
      // The broker sends a login whose acr_values fix BankID from /auth straight to its page;
      // bare-bankid's page is at this address (the BankID page's step loads it).
      name: 'GET /interaction/{uid}',
      run: async (login) => {
        login.uid = /\/interaction\/([^/?]+)/.exec(login.next)?.[1] ?? '';
        if (!target.approveUrl && /^\/interaction\/[^/?]+\/?$/.test(new URL(login.next, target.issuer).pathname)) await hop(login, login.next);
      },
    },
  ];
  const bankId: Step[] = [
    {
      name: 'GET the BankID page',
      run: async (login) => {
        const answer = await login.browser.request(login.next);
        if (answer.status !== 200) throw new Error(`the BankID page answered ${answer.status}`);
      },
    },
    {
      name: 'POST api/start (BankID auth)',
      run: async (login) => {
        login.started = await startBankId(login.browser, login.uid);
        await approve(dispatcher, target, login.started.qrCode!.payload);
      },
    },
    {
      name: 'POST api/poll (collect, finish)',
      run: async (login) => {
        const answer = JSON.parse((await pollBankId(login.browser, login.uid)).text) as BankIdAnswer;
        if (!answer.redirectTo) throw new Error(`the poll did not end the login: ${JSON.stringify(answer)}`);
        login.next = answer.redirectTo;
      },
    },
  ];
  const oidcEnd: Step[] = [
    {
      name: 'GET /auth/{uid} (code)',
      run: async (login) => {
        await hop(login, login.next);
        login.code = new URL(login.next).searchParams.get('code') ?? '';
      },
    },
    { name: 'POST /token', run: async (login) => void (login.accessToken = (await redeem(dispatcher, target, login.code, login.verifier)).access_token) },
    { name: 'GET /me', run: async (login) => void (await userinfo(dispatcher, target, login.accessToken)) },
  ];
  return [...oidcStart, ...(target.approveUrl ? bankId : []), ...oidcEnd];
}

type Shares = Map<string, Array<{ cpuMs: number; commands: number }>>;

/** Runs the logins step by step into `shares`; returns the failures. */
async function measure(server: RunningServer, redis: BenchRedis, logins: number, dispatcher: Dispatcher, shares: Shares): Promise<string[]> {
  const people: Login[] = Array.from({ length: logins }, () => ({ browser: new Browser(server.target.issuer, dispatcher), verifier: '', next: '', uid: '', code: '', accessToken: '' }));
  for (const step of steps(server, dispatcher)) {
    const going = people.filter((login) => !login.failed);
    const cpuBefore = cpuSeconds(server.process.pid);
    const commandsBefore = await redis.commandsProcessed();
    await inTurns(going, (login) => step.run(login).catch((err: unknown) => void (login.failed = `${step.name}: ${(err as Error).message}`)));
    const cpuMs = (cpuSeconds(server.process.pid) - cpuBefore) * 1000;
    // The second INFO counts itself.
    const commands = (await redis.commandsProcessed()) - commandsBefore - 1;
    const key = `${server.target.kind}\t${step.name}`;
    shares.set(key, [...(shares.get(key) ?? []), { cpuMs: cpuMs / going.length, commands: commands / going.length }]);
  }
  return people.flatMap((login) => (login.failed ? [login.failed] : []));
}

function table(shares: Shares): string {
  const rows = ['| server | request | CPU per login | Redis commands per login |', '| --- | --- | --- | --- |'];
  const totals = new Map<string, { cpuMs: number; commands: number }>();
  for (const [key, runs] of shares) {
    const [kind = '', name = ''] = key.split('\t');
    const cpuMs = median(runs.map((run) => run.cpuMs));
    const commands = median(runs.map((run) => run.commands));
    const total = totals.get(kind) ?? { cpuMs: 0, commands: 0 };
    totals.set(kind, { cpuMs: total.cpuMs + cpuMs, commands: total.commands + commands });
    rows.push(`| ${kind} | ${name} | ${cpuMs.toFixed(2)} ms (${runs.map((run) => run.cpuMs.toFixed(2)).join(', ')}) | ${commands.toFixed(1)} |`);
  }
  for (const [kind, total] of totals) rows.push(`| ${kind} | **a whole login** | **${total.cpuMs.toFixed(2)} ms** | **${total.commands.toFixed(1)}** |`);
  return rows.join('\n');
}

async function main(): Promise<void> {
  const logins = Number(process.argv[2] ?? 200);
  const rounds = Number(process.argv[3] ?? 3);
  const options = readOptions();
  const redis = await openBenchRedis(options.redisUrl);
  const bed = await openBed(redis, { profile: options.profile, node: options.serverNode });
  const dispatcher = keepAliveAgent(CONCURRENCY);
  try {
    const servers = [await bed.startBroker('steps-broker'), await bed.startBare('steps-bare'), await bed.startBare('steps-bare-bankid', 'bankid')];
    const warmUp = servers.map((server) => measure(server, redis, 100, dispatcher, new Map()));
    await Promise.all(warmUp);
    const shares: Shares = new Map();
    const failures: string[] = [];
    for (let round = 0; round < rounds; round += 1) {
      for (const server of round % 2 === 0 ? servers : [...servers].reverse()) failures.push(...(await measure(server, redis, logins, dispatcher, shares)));
    }
    console.log(`${logins} logins a round, ${rounds} rounds, ${CONCURRENCY} at a time; medians (each round's in brackets)\n`);
    console.log(table(shares));
    if (failures.length) console.log(`\n${failures.length} logins failed (left out of the steps after), e.g. ${failures[0]}`);
  } finally {
    await dispatcher.close();
    await bed.close();
    await redis.close();
    await stopAll();
  }
}

await main();
