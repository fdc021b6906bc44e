import { setTimeout as sleep } from 'node:timers/promises';
import { openBankIdPage, pollBankId, startBankId, type BankIdAnswer, type Target } from '../lib/flows.js';
import { Browser, header, keepAliveAgent } from '../lib/http.js';
import { summarize, type LatencySummary } from '../lib/stats.js';

/**
 * A load generator in its own process, steered by the bench over IPC: people waiting in
 * their BankID app. Each has a browser of its own (its own cookies) on the broker's BankID
 * page, which polls `api/poll?qr=true` as views/static/se-bankid.js does: a poll, then a
 * second's wait, then the next poll (Retry-After's wait after a 429, two seconds after a
 * failed request).
 *
 * Commands: grow {total} (start logins until there are `total`), poll (start polling),
 * mark (the statistics since the last mark), pause (stop polling, wait for polls in flight).
 */
interface Input {
  target: Target;
  createConcurrency: number;
  /** Connections to the broker, as a proxy in front of it would keep. */
  connections: number;
  /**
   * People arrive at any moment, so their orders' collects fall evenly over poll_frequency:
   * each page's first poll (which collects) comes at a random moment within this.
   */
  spreadMs: number;
}

interface Command {
  id: number;
  command: 'grow' | 'poll' | 'mark' | 'pause';
  total?: number;
}

export interface PollWindow {
  polls: number;
  latency: LatencySummary;
  /** Answers that were IN_PROGRESS with a QR code, as a waiting login's should be. */
  waiting: number;
  /** Any other 200 answer: a login that ended (it should not), or no QR code. */
  otherStatus: Record<string, number>;
  http429: number;
  /** Other non-200 answers, by status. */
  httpErrors: Record<string, number>;
  networkErrors: number;
  errorSamples: string[];
}

export interface GrowOutcome {
  total: number;
  failed: number;
  seconds: number;
  errorSamples: string[];
}

const POLL_EVERY_MS = 1000;
const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const dispatcher = keepAliveAgent(input.connections);
const sessions: Array<{ browser: Browser; uid: string; ended: boolean }> = [];

function freshTally() {
  return {
    latencies: [] as number[],
    waiting: 0,
    otherStatus: {} as Record<string, number>,
    http429: 0,
    httpErrors: {} as Record<string, number>,
    networkErrors: 0,
    errorSamples: [] as string[],
  };
}
let tally = freshTally();
const count = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1);

async function grow(total: number): Promise<GrowOutcome> {
  const started = performance.now();
  let failed = 0;
  const errorSamples: string[] = [];
  let wanted = total - sessions.length;
  const worker = async () => {
    while (wanted > 0) {
      wanted -= 1;
      try {
        const browser = new Browser(input.target.issuer, dispatcher);
        const { uid } = await openBankIdPage(browser, input.target);
        const first = await startBankId(browser, uid);
        if (first.status !== 'IN_PROGRESS' || !first.qrCode) throw new Error(`api/start answered ${JSON.stringify(first)}`);
        sessions.push({ browser, uid, ended: false });
      } catch (error) {
        failed += 1;
        if (errorSamples.length < 5) errorSamples.push((error as Error).message);
        if (failed > total) throw new Error(`cannot start logins: ${errorSamples.join('; ')}`);
      }
    }
  };
  await Promise.all(Array.from({ length: input.createConcurrency }, worker));
  return { total: sessions.length, failed, seconds: (performance.now() - started) / 1000, errorSamples };
}

let polling: AbortController | undefined;
let loops: Promise<void>[] = [];

/** One waiting person's page: poll, wait, poll again, until paused. */
async function pollLoop(session: (typeof sessions)[number], signal: AbortSignal): Promise<void> {
  // Browsers do not poll in step: each starts at its own moment.
  await sleep(Math.random() * input.spreadMs, undefined, { signal }).catch(() => undefined);
  while (!signal.aborted && !session.ended) {
    let wait = POLL_EVERY_MS;
    const begin = performance.now();
    try {
      const answer = await pollBankId(session.browser, session.uid);
      tally.latencies.push(performance.now() - begin);
      if (answer.status === 200) {
        const state = JSON.parse(answer.text) as BankIdAnswer;
        if (state.status === 'IN_PROGRESS' && state.qrCode) tally.waiting += 1;
        else count(tally.otherStatus, `${state.status}${state.qrCode ? '' : ' (no QR)'}`);
        if (state.redirectTo) session.ended = true;
      } else if (answer.status === 429) {
        tally.http429 += 1;
        wait = Number(header(answer, 'retry-after') ?? 1) * 1000;
      } else {
        count(tally.httpErrors, String(answer.status));
        if (tally.errorSamples.length < 5) tally.errorSamples.push(`${answer.status} ${answer.text.slice(0, 200)}`);
      }
    } catch (error) {
      tally.networkErrors += 1;
      if (tally.errorSamples.length < 5) tally.errorSamples.push((error as Error).message);
      wait = 2 * POLL_EVERY_MS;
    }
    await sleep(wait, undefined, { signal }).catch(() => undefined);
  }
}

function mark(): PollWindow {
  const { latencies, ...counts } = tally;
  tally = freshTally();
  return { polls: latencies.length, latency: summarize(latencies), ...counts };
}

async function handle(message: Command): Promise<unknown> {
  switch (message.command) {
    case 'grow':
      return grow(message.total ?? 0);
    case 'poll':
      if (polling) throw new Error('already polling');
      polling = new AbortController();
      tally = freshTally();
      loops = sessions.map((session) => pollLoop(session, polling!.signal));
      return { polling: sessions.length };
    case 'mark':
      return mark();
    case 'pause':
      polling?.abort();
      await Promise.all(loops);
      polling = undefined;
      loops = [];
      return { ended: sessions.filter((session) => session.ended).length };
  }
}

process.on('message', (message: Command) => {
  handle(message).then(
    (result) => process.send!({ id: message.id, result }),
    (error: unknown) => process.send!({ id: message.id, error: (error as Error).message }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
