import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { EidOutcome, EidPlugin, LoginWatcher, PollStatus } from '../eids/plugin.js';
import { shownStatusJson } from '../eids/shown-status.js';
import { readBody } from '../http/body.js';
import { outsideRequest } from '../http/request-scope.js';
import { clientIp } from '../http/client-ip.js';
import { HttpError, PollInProgressError } from '../http/errors.js';
import type { EventStream } from '../http/event-stream.js';
import type { RoutineRequests } from '../http/trace.js';
import type { EidRegistry } from '../eids/registry.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import { rememberInput, startInputOf } from './start-input.js';
import { passesWithoutToken } from './submissions.js';
import { routeState, type LoginDependencies, type LoginSteps } from './interaction.js';
import { EXACT_CASE } from '../http/scoped.js';

/** A poll's path, and the interaction's uid in it. */
const POLL_PATH = /^\/interaction\/([^/]+)\/api\/poll$/;

/** A waiting page's poll (POST /interaction/<uid>/api/poll), which it repeats every second. */
export const isPoll: RoutineRequests = (ctx) => ctx.method === 'POST' && POLL_PATH.test(ctx.path);

/** Statuses that end the login: the answer then says where the browser goes. */
const finalStatuses = new Set<PollStatus['status']>(['COMPLETE', 'ERROR', 'CANCEL']);

/** The status of an outcome an eID reached without being polled. */
function statusOf(outcome: EidOutcome): PollStatus['status'] {
  if (!('failure' in outcome)) return 'COMPLETE';
  return outcome.failure.error === 'access_denied' ? 'CANCEL' : 'ERROR';
}

/**
 * A waiting login as its page sees it over the event stream: `status` events while it waits,
 * `qr` frames, and one `done` event with where the browser goes once the eID's outcome has
 * ended the login. If ending it fails (the store away for a moment), the stream just closes:
 * the browser reconnects and is sent the final status again.
 */
class StreamedLogin implements LoginWatcher {
  #finishing = false;

  constructor(
    private readonly stream: EventStream,
    private readonly finish: (outcome: EidOutcome) => Promise<string>,
    /** The stream's traceId: the support reference shown with a failure. */
    private readonly reference: string,
    private readonly log: Logger,
  ) {}

  status(status: PollStatus): void {
    const { outcome } = status;
    if (!outcome || status.retry) return this.stream.send('status', shownStatusJson(status, this.reference).toString());
    if (this.#finishing) return;
    this.#finishing = true;
    this.finish(outcome).then(
      (redirectTo) => {
        this.stream.send('done', shownStatusJson(status, this.reference, redirectTo).toString());
        this.stream.end();
      },
      (err: unknown) => {
        // Ended already (on another instance, whose end this one's copy had not seen) or expired:
        // the page asks where it stands, and learns so. Anything else may mend: it reconnects.
        if (err instanceof HttpError && err.error === 'session_expired') return this.end();
        this.log.warn({ err }, 'a login could not be ended from its event stream; the browser reconnects');
        this.stream.end();
      },
    );
  }

  frame(payload: string, sequence: number): void {
    this.stream.offer('qr', payload, sequence);
  }

  end(): void {
    this.stream.send('end', '{}');
    this.stream.end();
  }

  /**
   * Ends the stream once the login has run out (its interaction's `exp`, epoch seconds: the time to
   * start an eID and the eID's own time after it, see lifetime.ts): nothing
   * else tells a page left open that nobody scanned, and it showed a new QR code every second for
   * a login that could no longer finish. The page then asks where it stands and leaves for the
   * login's page, which says it is over. The margin lets the login's record go from the store
   * first (its lifetime is counted in whole seconds from its last save), so that the page's poll
   * is answered session_expired rather than opening the stream again.
   */
  endWhenExpired(exp: number): void {
    const timer = outsideRequest(() => setTimeout(() => this.end(), exp * 1000 - Date.now() + EXPIRED_RECORD_MARGIN_MS));
    timer.unref();
    this.stream.onClose(() => clearTimeout(timer));
  }
}

/** How long after a login's expiry its record is surely gone from the store (see endWhenExpired). */
const EXPIRED_RECORD_MARGIN_MS = 2000;

/** No answer of the API is kept by a cache: each is one moment of a login. */
export const NO_STORE = ['Cache-Control', 'no-store'] as const;

const noStore: Middleware = (ctx, next) => {
  ctx.set(...NO_STORE);
  return next();
};

/** The type of the API's answers, said in so many words: Koa would call a buffer (shownStatusJson) a binary. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** The request's traceId (trace, or the kept poll's direct answer, put it there). */
const traceIdIn = (ctx: Context): string => (ctx.state as { traceId: string }).traceId;

/** The status as JSON; a status that ends the login first finishes it (unless the person may try again). */
async function answer(steps: LoginSteps, ctx: Context, plugin: EidPlugin, status: PollStatus): Promise<void> {
  const { outcome } = status;
  if (!outcome && finalStatuses.has(status.status)) throw new Error(`${plugin.id} ended a login without an outcome`);
  const redirectTo = outcome && !status.retry ? await steps.finish(ctx, plugin, outcome) : undefined;
  ctx.type = JSON_TYPE;
  ctx.body = shownStatusJson(status, traceIdIn(ctx), redirectTo);
}

/**
 * The login's started eID, when it is the one the page asking waits on (`?eid=`, when it says):
 * a page left on one eID while the login went on with another (chosen in another tab) gets 409,
 * as one whose login went back to the picker does, and leaves for the login's page. Without the
 * check it was answered the other eID's status and QR code, and showed them under its own heading.
 */
async function waitedOnEid(steps: LoginSteps, ctx: Context): Promise<EidPlugin> {
  const plugin = await steps.activeEid(ctx);
  const asked = ctx.query.eid;
  if (asked !== undefined && asked !== plugin.id) throw new HttpError(409, 'invalid_request', 'This login no longer waits on that eID.');
  return plugin;
}

/** The started eID, when it is polled. */
async function polledEid(steps: LoginSteps, ctx: Context): Promise<EidPlugin & Required<Pick<EidPlugin, 'poll'>>> {
  const plugin = await waitedOnEid(steps, ctx);
  if (!plugin.poll) throw new HttpError(400, 'invalid_request', `${plugin.id} is not polled: follow its redirectTo.`);
  return plugin as EidPlugin & Required<Pick<EidPlugin, 'poll'>>;
}

const pollOptions = (ctx: Context) => ({ qr: ctx.query.qr === 'true' });

/** POST poll[?qr=true]: the started eID's status; a poll the eID refuses while another of the login runs counts as the limit `poll`. */
function pollRoute(steps: LoginSteps, metrics: Metrics): Middleware {
  return async (ctx) => {
    const plugin = await polledEid(steps, ctx);
    let status: PollStatus;
    try {
      status = await plugin.poll(steps.loginRequest(ctx, plugin), pollOptions(ctx));
    } catch (err) {
      if (err instanceof PollInProgressError) metrics.rateLimited.inc({ limit: 'poll', by: 'login' });
      throw err;
    }
    if (status.status === 'NOT_STARTED') await steps.refuseNotWaiting(ctx, plugin);
    await answer(steps, ctx, plugin, status);
  };
}

/**
 * A waiting page's poll that this instance answers from its copies (LoginSteps.takeKept): the
 * broker runs `route` on a stack of its own for the requests `takes` takes, ahead of its general
 * one. It is the API router's poll without the router: the same steps (the interaction's client
 * and state, JSON only, no-store, the poll), less what takeKept has checked already.
 *
 * `quietAnswer` is the same poll for a request answered without the app at all (answerKeptPolls):
 * the answer's body when the poll goes as a waiting page's poll goes second after second — JSON,
 * the login request made before, a status that ends nothing — having written nothing to the
 * response; undefined (or a rejection) for any other, which the app then answers as it would
 * have. An eID's poll reads the login's status, so asking it again there changes nothing.
 */
export interface KeptPoll {
  takes: (ctx: Context) => boolean;
  route: Middleware[];
  quietAnswer: (ctx: Context) => Promise<Buffer | undefined>;
}

export function keptPoll(steps: LoginSteps, jsonOnly: Middleware, metrics: Metrics): KeptPoll {
  return {
    takes(ctx) {
      const uid = ctx.method === 'POST' ? POLL_PATH.exec(ctx.path)?.[1] : undefined;
      return uid !== undefined && steps.takeKept(ctx, uid);
    },
    route: [steps.enterKept, jsonOnly, noStore, pollRoute(steps, metrics)],
    async quietAnswer(ctx) {
      if (!passesWithoutToken(ctx)) return undefined;
      await steps.enterTaken(ctx);
      const plugin = await polledEid(steps, ctx);
      const request = steps.keptLoginRequest(ctx, plugin);
      if (!request) return undefined;
      const status = await plugin.poll(request, pollOptions(ctx));
      // Only a login waiting on its eID: with none under way (NOT_STARTED) it may have ended meanwhile, which pollRoute asks the store.
      return status.outcome || status.status !== 'IN_PROGRESS' ? undefined : shownStatusJson(status, traceIdIn(ctx));
    },
  };
}

/**
 * The frontend JSON API under /interaction/<uid>/api/: everything the built-in pages do, for
 * anyone who builds their own frontend. Requests need the same interaction cookie as the pages.
 */
export function frontendApi(
  steps: LoginSteps,
  { ui, eventStreams, log, metrics }: Pick<LoginDependencies, 'ui' | 'eventStreams' | 'log' | 'metrics'>,
  jsonOnly: Middleware,
): Router {
  const api = new Router({ ...EXACT_CASE, prefix: '/interaction/:uid/api' });
  api.use(steps.loadInteraction, jsonOnly, noStore);

  /** POST start {"eid": "<id>", …the fields that eID declares (`startInput`)}. */
  api.post('/start', async (ctx) => {
    const body = await readBody(ctx);
    const refused = await steps.refusedTo(ctx);
    if (refused) {
      ctx.body = { status: 'ERROR', redirectTo: refused };
      return;
    }
    const chosen = steps.choice(ctx);
    const options = chosen.kind === 'eid' ? [chosen] : chosen.kind === 'picker' ? chosen.options : [];
    const option = options.find((o) => o.plugin.id === body.eid);
    if (!option) throw new HttpError(400, 'invalid_request', 'That eID is not offered for this login.');
    const input = startInputOf(option.plugin, body);
    rememberInput(ctx, option.plugin, input);
    const result = await steps.start(ctx, option, { input });
    if ('redirectTo' in result) ctx.body = { redirectTo: result.redirectTo };
    else if ('outcome' in result) await answer(steps, ctx, option.plugin, { status: statusOf(result.outcome), outcome: result.outcome });
    else await answer(steps, ctx, option.plugin, result.status);
  });

  api.post('/poll', pollRoute(steps, metrics));

  /**
   * GET events: the started eID's status and frames as Server-Sent Events, for eIDs a person
   * waits on. The interaction cookie is checked once, when the stream (re)connects.
   */
  api.get('/events', async (ctx) => {
    const plugin = await waitedOnEid(steps, ctx);
    if (!plugin.watch) throw new HttpError(400, 'invalid_request', `${plugin.id} sends no events: follow its redirectTo.`);
    const stream = eventStreams.admit(ctx, routeState(ctx).interaction.uid, clientIp(ctx));
    // Nothing here keeps ctx: Koa holds it until the stream ends anyway, but not what it refers to
    // through the stream (see EventStream), and the outcome reads the interaction again.
    const login = new StreamedLogin(stream, steps.finishLater(ctx, plugin), ctx.response.get('traceId'), log);
    try {
      stream.onClose(await plugin.watch(steps.loginRequest(ctx, plugin), login));
      login.endWhenExpired(routeState(ctx).interaction.exp);
    } catch (err) {
      stream.end();
      throw err;
    }
    // Throws when refused on the way (its connection carries other requests, the instance began to drain).
    stream.open();
  });

  /**
   * POST cancel {"leave": "eid" | "login"}: stops the eID under way; back to the picker when the
   * login returns there ("eid", the default), else — and always with "login" — the login ends
   * at the client with access_denied (or the failure the person was shown).
   */
  api.post('/cancel', async (ctx) => {
    const { leave } = await readBody(ctx);
    if (leave !== undefined && leave !== 'eid' && leave !== 'login') throw new HttpError(400, 'invalid_request', 'leave must be "eid" or "login".');
    ctx.body = { redirectTo: await steps.abandon(ctx, leave === 'login' ? 'login' : 'eid') };
  });

  /** GET ui: who the person logs in to, the eIDs offered, and how to show them. */
  api.get('/ui', async (ctx) => {
    const notice = await steps.notice(ctx);
    ctx.body = {
      client: steps.clientShown(ctx),
      eids: steps.offered(ctx),
      ...(notice ? { notice } : {}),
      locale: steps.locale(ctx),
    };
  });

  /** GET contact: where people get help, and whether to show it. */
  api.get('/contact', (ctx) => {
    ctx.body = { email: ui.support_email ?? null, show: ui.show_contact && Boolean(ui.support_email) };
  });

  /** GET overrides: the operator's message, CSS and content overrides, for a custom frontend to apply. */
  api.get('/overrides', (ctx) => {
    ctx.body = ui.overrides;
  });

  return api;
}

/**
 * GET /api/status: OK while every eID can take logins and the state store answers; ISSUES,
 * and which part, when anything cannot. It answers while the store is down, to say so.
 */
export function serviceStatus(registry: EidRegistry, store: Store): Router {
  const router = new Router(EXACT_CASE);
  router.get('/api/status', (ctx) => {
    const eids = Object.fromEntries(registry.all.map((plugin) => [plugin.id, { available: registry.isAvailable(plugin.id) }]));
    const healthy = store.answering && Object.values(eids).every((eid) => eid.available);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: healthy ? 'OK' : 'ISSUES', store: { available: store.answering }, eids };
  });
  return router;
}
