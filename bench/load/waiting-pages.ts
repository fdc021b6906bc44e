import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Sealer } from '../../src/store/sealed-store.js';
import { openBankIdPage, pollRequest, startBankId, type BankIdAnswer, type Target } from '../lib/flows.js';
import { Browser, header, keepAliveAgent, type Answer } from '../lib/http.js';
import { KeptAliveConnection, type Address } from '../lib/raw-http.js';
import { summarize, type LatencySummary } from '../lib/stats.js';
import { EventStreamClient, type StreamEvent } from './event-stream-client.js';

/**
 * A load generator in its own process, steered by the bench over IPC: people waiting in
 * their BankID app. Each has a browser of its own (its own cookies) on the broker's BankID
 * page, which waits on the login in one of two ways:
 *
 * - on its event stream (`GET api/events`), as the BankID page's script (providers/shared/static/app-page.mjs) does: one raw HTTP
 *   connection per page, reopened 2 s after it drops (the stream's `retry`), as EventSource
 *   does. Each QR frame's delay is its arrival less its due time, orderedAt + id seconds, with
 *   orderedAt read from Redis once per login.
 * - by polling `api/poll?qr=true`, as the page's fallback and custom frontends do: a poll,
 *   then a second's wait, then the next poll (Retry-After's wait after a 429, two seconds
 *   after a failed request). Each page polls on a kept-alive connection of its own, as a
 *   browser tab does, with its request's bytes built once (see PagePoller); rounds of polls go
 *   on a few shared connections instead (see roundConnections).
 *
 * Commands: grow {total} (start logins until `total` wait), stream {instances} (open a
 * stream for every waiting login without one, to the instances in turn), poll {count} (the
 * first `count` waiting logins start polling), round {count, concurrency} (each of the first
 * `count` polls once; see pollRound), mark (the statistics since the last mark),
 * pause (close every stream, stop polling, wait for polls in flight). A login that ends (it
 * should not: its order waits an hour) counts against its window and is replaced at the next grow.
 */
interface Input {
  target: Target;
  createConcurrency: number;
  /** Streams being opened at once: each costs the broker a cookie check and store reads. */
  openConcurrency: number;
  /** Connections to the broker for starting logins, as a proxy in front of it would keep. */
  connections: number;
  /**
   * People arrive at any moment, so their orders' collects fall evenly over poll_frequency:
   * each page's first poll (which collects) comes at a random moment within this.
   */
  spreadMs: number;
  /** Where the broker keeps orders: `<redis key prefix>se-bankid:order:`, and on which Redis. */
  redisUrl: string;
  orderKeyPrefix: string;
  /** The broker's store_encryption_keys: orders are kept sealed. */
  storeEncryptionKeys: string[];
}

interface Instance {
  host: string;
  port: number;
}

interface Command {
  id: number;
  command: 'grow' | 'stream' | 'poll' | 'round' | 'mark' | 'pause';
  total?: number;
  count?: number;
  concurrency?: number;
  instances?: Instance[];
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

export interface StreamWindow {
  /** QR frames that arrived, all of them. */
  frames: number;
  /** Arrival less due time of each frame that was the first of its second on its stream (the frame sent on (re)connecting aside). */
  delay: LatencySummary;
  statusEvents: number;
  /** Streams open at the end of the window. */
  open: number;
  /** Streams the broker closed or that failed while open; each is reopened 2 s later. */
  dropped: number;
  /** Opens the broker refused, by status. */
  refused: Record<string, number>;
  /** Logins whose stream said `done` or `end`: a waiting login should never. */
  ended: number;
  errorSamples: string[];
}

export interface WaitingWindow {
  seconds: number;
  poll: PollWindow;
  stream: StreamWindow;
  /** This process's own event-loop delay p99 (ms): how late it may have read what arrived. */
  loopDelayP99Ms: number;
}

export interface RoundOutcome {
  polls: number;
  seconds: number;
  /** This process's CPU time over the round's polls. */
  cpuMs: number;
}

export interface GrowOutcome {
  /** Logins waiting now. */
  total: number;
  failed: number;
  seconds: number;
  errorSamples: string[];
}

export interface OpenOutcome {
  open: number;
  refused: Record<string, number>;
  seconds: number;
  errorSamples: string[];
}

interface Session {
  browser: Browser;
  uid: string;
  ended: boolean;
  /** When BankID created the order (epoch ms), as the broker stored it. */
  orderedAt: number;
  stream?: WaitingStream;
  poller?: PagePoller;
}

const POLL_EVERY_MS = 1000;
/** The `retry` the broker sends: how long EventSource waits before reopening a dropped stream. */
const REOPEN_AFTER_MS = 2000;
const SAMPLES = 5;

const input = JSON.parse(process.argv[2] ?? '{}') as Input;
const dispatcher = keepAliveAgent(input.connections);
const issuer = new URL(input.target.issuer);
/** Where polls go: the broker's issuer, as the page's own origin. */
const pollAddress: Address = { host: issuer.hostname, port: Number(issuer.port || 80) };
const redis = new Redis(input.redisUrl, { maxRetriesPerRequest: 1 });
const sealer = new Sealer(input.storeEncryptionKeys);
const sessions: Session[] = [];
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let windowStarted = performance.now();
/** Streams connected now, with a 200 answer. */
let openStreams = 0;

const waitingSessions = () => sessions.filter((session) => !session.ended);
/** Logins that ended since the last pause. */
let endedSincePause = 0;
function endLogin(session: Session): void {
  if (!session.ended) endedSincePause += 1;
  session.ended = true;
}
const count = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1);
const sample = (samples: string[], message: string) => samples.length < SAMPLES && samples.push(message);

function freshPollTally() {
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

function freshStreamTally() {
  return { frames: 0, delays: [] as number[], statusEvents: 0, dropped: 0, refused: {} as Record<string, number>, ended: 0, errorSamples: [] as string[] };
}

let pollTally = freshPollTally();
let streamTally = freshStreamTally();

async function startLogin(): Promise<Omit<Session, 'orderedAt'>> {
  const browser = new Browser(input.target.issuer, dispatcher);
  const { uid } = await openBankIdPage(browser, input.target);
  const first = await startBankId(browser, uid);
  if (first.status !== 'IN_PROGRESS' || !first.qrCode) throw new Error(`api/start answered ${JSON.stringify(first)}`);
  return { browser, uid, ended: false };
}

/** orderedAt of each login's order, read once, as the page's QR time counts from it. */
async function orderedAtOf(uids: readonly string[]): Promise<number[]> {
  const pipeline = redis.pipeline();
  for (const uid of uids) pipeline.hget(`${input.orderKeyPrefix}${uid}`, 'v');
  return ((await pipeline.exec()) ?? []).map(([error, value], i) => {
    const orderedAt = value ? (JSON.parse(sealer.open(value as string)) as { orderedAt?: number }).orderedAt : undefined;
    if (error || typeof orderedAt !== 'number') throw new Error(`no order stored for login ${uids[i]}: ${error?.message ?? String(value)}`);
    return orderedAt;
  });
}

async function grow(total: number): Promise<GrowOutcome> {
  const started = performance.now();
  let failed = 0;
  const errorSamples: string[] = [];
  let wanted = total - waitingSessions().length;
  const created: Array<Omit<Session, 'orderedAt'>> = [];
  const worker = async () => {
    while (wanted > 0) {
      wanted -= 1;
      try {
        created.push(await startLogin());
      } catch (error) {
        failed += 1;
        sample(errorSamples, (error as Error).message);
        if (failed > total) throw new Error(`cannot start logins: ${errorSamples.join('; ')}`);
      }
    }
  };
  await Promise.all(Array.from({ length: input.createConcurrency }, worker));
  const orderedAt = await orderedAtOf(created.map((session) => session.uid));
  created.forEach((session, i) => sessions.push({ ...session, orderedAt: orderedAt[i]! }));
  return { total: waitingSessions().length, failed, seconds: (performance.now() - started) / 1000, errorSamples };
}

/** One page's event stream, reopened after it drops, until closed here or its login ends. */
class WaitingStream {
  #client: EventStreamClient | undefined;
  #reopen: NodeJS.Timeout | undefined;
  /** The highest frame id seen on the current connection. */
  #lastId: number | undefined;
  #closed = false;
  #connected = false;
  #opened: ((status: number) => void) | undefined;

  constructor(
    private readonly session: Session,
    private readonly instance: Instance,
  ) {}

  /** Connects; resolves with the status of the answer (0 when the connection failed first). */
  open(): Promise<number> {
    return new Promise((resolve) => {
      this.#opened = resolve;
      this.#connect();
    });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#reopen);
    this.#client?.close();
  }

  #connect(): void {
    const path = `/interaction/${this.session.uid}/api/events`;
    this.#lastId = undefined;
    this.#client = new EventStreamClient(
      { ...this.instance, hostHeader: issuer.host, path, cookie: this.session.browser.cookieHeader(path) },
      {
        opened: (status, body) => {
          this.#settle(status);
          if (status === 200) {
            this.#connected = true;
            openStreams += 1;
            return;
          }
          count(streamTally.refused, String(status));
          sample(streamTally.errorSamples, `${status} ${body}`);
        },
        event: (event, arrivedAt) => this.#event(event, arrivedAt),
        closed: (error) => {
          this.#settle(0);
          if (this.#connected) openStreams -= 1;
          this.#connected = false;
          if (error) {
            streamTally.dropped += 1;
            sample(streamTally.errorSamples, error.message);
          }
          if (!this.#closed && !this.session.ended) this.#reopen = setTimeout(() => this.#connect(), REOPEN_AFTER_MS);
        },
      },
    );
  }

  #settle(status: number): void {
    this.#opened?.(status);
    this.#opened = undefined;
  }

  #event(event: StreamEvent, arrivedAt: number): void {
    switch (event.event) {
      case 'qr': {
        streamTally.frames += 1;
        const id = Number(event.id);
        if (this.#lastId !== undefined && id > this.#lastId) streamTally.delays.push(arrivedAt - (this.session.orderedAt + id * 1000));
        this.#lastId = Math.max(id, this.#lastId ?? id);
        return;
      }
      case 'status':
        streamTally.statusEvents += 1;
        return;
      case 'done':
      case 'end':
        streamTally.ended += 1;
        endLogin(this.session);
        sample(streamTally.errorSamples, `${event.event} ${event.data.slice(0, 200)}`);
        return;
    }
  }
}

/** Opens a stream for every login without one, `openConcurrency` at a time, to the instances in turn. */
async function stream(instances: Instance[]): Promise<OpenOutcome> {
  const started = performance.now();
  const refused: Record<string, number> = {};
  const errorSamples: string[] = [];
  const waiting = waitingSessions()
    .map((session, i) => ({ session, i }))
    .filter(({ session }) => !session.stream);
  const worker = async () => {
    for (let next = waiting.shift(); next; next = waiting.shift()) {
      const { session, i } = next;
      session.stream = new WaitingStream(session, instances[i % instances.length]!);
      const status = await session.stream.open();
      if (status !== 200) {
        count(refused, String(status));
        sample(errorSamples, `login ${session.uid}: ${status}`);
      }
    }
  };
  await Promise.all(Array.from({ length: input.openConcurrency }, worker));
  return { open: openStreams, refused, seconds: (performance.now() - started) / 1000, errorSamples };
}

/**
 * One page's polls on raw kept-alive connections: the request's bytes (its cookies as the page's
 * browser holds them) are built once, and again only if a poll's answer sets a cookie. A general
 * HTTP client would cost the load generator more CPU per poll than the broker spends answering
 * it, on the cores they share. Paced (`pace`), it polls on a connection of its own, as a browser
 * tab does, waits, and polls again on a timer of its own: sleeps on one AbortSignal shared by
 * thousands of pages cost more than the polls, as each sleep adds a listener to it and finds it
 * again among all the others to remove it.
 */
class PagePoller {
  /** Its own connection, opened at its first paced poll. */
  readonly #connection = new KeptAliveConnection(pollAddress);
  #request: Buffer;
  #timer: NodeJS.Timeout | undefined;
  #pacing = false;
  #inFlight: Promise<number> | undefined;
  readonly #tick = () => void this.#paced();

  constructor(readonly session: Session) {
    this.#request = pollRequest(session.browser, session.uid);
  }

  /** The page's poll, sent on its own connection or `on`; a cookie its answer sets goes into the next. */
  async send(on: KeptAliveConnection = this.#connection): Promise<Answer> {
    const answer = await on.send(this.#request);
    if (answer.headers['set-cookie'] !== undefined) {
      this.session.browser.keep(answer);
      this.#request = pollRequest(this.session.browser, this.session.uid);
    }
    return answer;
  }

  /** Polls, waits as pollOnce says, and polls again until stopped or the login ends; the first poll after `delayMs`. */
  pace(delayMs: number): void {
    this.#pacing = true;
    this.#timer = setTimeout(this.#tick, delayMs);
  }

  /** Stops pacing; resolves once a poll under way has its answer. */
  async stop(): Promise<void> {
    this.#pacing = false;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  close(): void {
    this.#connection.close();
  }

  async #paced(): Promise<void> {
    const wait = await (this.#inFlight = pollOnce(this));
    this.#inFlight = undefined;
    if (this.#pacing && !this.session.ended) this.#timer = setTimeout(this.#tick, wait);
  }
}

const pollerOf = (session: Session) => (session.poller ??= new PagePoller(session));
/** Whether pages poll every second now (the `poll` command, until `pause`). */
let polling = false;

/** One poll (on `connection`, else the page's own), counted in the tally; how long the page waits before its next (ms). */
async function pollOnce(poller: PagePoller, connection?: KeptAliveConnection): Promise<number> {
  const { session } = poller;
  const begin = performance.now();
  try {
    const answer = await poller.send(connection);
    pollTally.latencies.push(performance.now() - begin);
    if (answer.status === 200) {
      const state = JSON.parse(answer.text) as BankIdAnswer;
      if (state.status === 'IN_PROGRESS' && state.qrCode) pollTally.waiting += 1;
      else count(pollTally.otherStatus, `${state.status}${state.qrCode ? '' : ' (no QR)'}`);
      if (state.redirectTo) endLogin(session);
    } else if (answer.status === 429) {
      pollTally.http429 += 1;
      return Number(header(answer, 'retry-after') ?? 1) * 1000;
    } else {
      count(pollTally.httpErrors, String(answer.status));
      sample(pollTally.errorSamples, `${answer.status} ${answer.text.slice(0, 200)}`);
    }
  } catch (error) {
    pollTally.networkErrors += 1;
    sample(pollTally.errorSamples, (error as Error).message);
    return 2 * POLL_EVERY_MS;
  }
  return POLL_EVERY_MS;
}

/**
 * The connections rounds of polls go on, one per poll in flight, as a proxy in front of the
 * broker would keep them: a round's pages poll once each, seconds apart (a round of thousands and
 * the bench's pause between rounds), so connections of their own would outlive the broker's
 * keep-alive timeout, and every poll would cost a new connection, which a page polling every
 * second does not.
 */
const roundConnections: KeptAliveConnection[] = [];

/**
 * One round of polls: each of the first `count` waiting logins polls once, `concurrency` at a
 * time, and the round lasts at least POLL_EVERY_MS, so the next round's polls each draw a new
 * second's QR code. A fixed number of polls, however fast the broker answers them.
 */
async function pollRound(count: number, concurrency: number): Promise<RoundOutcome> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const queue = waitingSessions().slice(0, count);
  const polls = queue.length;
  while (roundConnections.length < concurrency) roundConnections.push(new KeptAliveConnection(pollAddress));
  const worker = async (connection: KeptAliveConnection) => {
    for (let session = queue.pop(); session; session = queue.pop()) await pollOnce(pollerOf(session), connection);
  };
  await Promise.all(roundConnections.slice(0, concurrency).map(worker));
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpuBefore);
  await sleep(Math.max(0, POLL_EVERY_MS - seconds * 1000));
  return { polls, seconds, cpuMs: (user + system) / 1000 };
}

function mark(): WaitingWindow {
  const { latencies, ...pollCounts } = pollTally;
  const { delays, ...streamCounts } = streamTally;
  const window: WaitingWindow = {
    seconds: (performance.now() - windowStarted) / 1000,
    poll: { polls: latencies.length, latency: summarize(latencies), ...pollCounts },
    stream: { ...streamCounts, delay: summarize(delays), open: openStreams },
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
  };
  pollTally = freshPollTally();
  streamTally = freshStreamTally();
  loopDelay.reset();
  windowStarted = performance.now();
  return window;
}

async function pause(): Promise<{ ended: number }> {
  for (const session of sessions) {
    session.stream?.close();
    delete session.stream;
  }
  await Promise.all(sessions.map((session) => session.poller?.stop()));
  polling = false;
  for (const session of sessions) {
    session.poller?.close();
    delete session.poller;
  }
  const ended = endedSincePause;
  endedSincePause = 0;
  return { ended };
}

async function handle(message: Command): Promise<unknown> {
  switch (message.command) {
    case 'grow':
      return grow(message.total ?? 0);
    case 'stream':
      return stream(message.instances ?? []);
    case 'poll': {
      if (polling) throw new Error('already polling');
      polling = true;
      const pages = waitingSessions().slice(0, message.count);
      // Browsers do not poll in step: each starts at its own moment.
      for (const session of pages) pollerOf(session).pace(Math.random() * input.spreadMs);
      return { polling: pages.length };
    }
    case 'round':
      return pollRound(message.count ?? 0, message.concurrency ?? 1);
    case 'mark':
      return mark();
    case 'pause':
      return pause();
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
