import Router from '@koa/router';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context, Middleware } from 'koa';
import type { EidOutcome, LoginState } from '../eids/plugin.js';
import { readBody } from '../http/body.js';
import { HttpError } from '../http/errors.js';
import { countryName } from '../identity/country.js';
import { frontendApi, keptPoll, serviceStatus, type KeptPoll } from './api.js';
import type { EidOption } from './choose-eid.js';
import { loginSteps, routeState, sessionExpired, type InteractionUrl, type LoginDependencies } from './interaction.js';
import { submissionGuard } from './submissions.js';
import { storeKey } from '../store/keys.js';
import { whileUnavailable } from '../store/retry.js';
import { EXACT_CASE } from '../http/scoped.js';

export type { InteractionUrl, LoginDependencies } from './interaction.js';

/** The login's routers, and where oidc-provider sends a browser to them. */
export interface LoginRoutes {
  routers: Router[];
  interactionUrl: InteractionUrl;
  /** A waiting page's poll, answered from this instance's copies on a stack of its own. */
  keptPoll: KeptPoll;
}

/** Where the routers loginRoutes returns answer: nothing outside these paths reaches them. */
export const LOGIN_PATHS = ['/interaction/', '/eid/', '/api/status'] as const;

/** How often a second return of an answer looks whether the first one's outcome is parked. */
const EARLIER_RETURN_CHECKED_EVERY_MS = 200;

/** How long an upstream's outcome waits for the browser to carry it into its interaction. */
const OUTCOME_TTL_SECONDS = 120;

/**
 * How long the write of an upstream's outcome is tried while the store is unavailable: the
 * upstream's code is spent by then, so a callback answered 503 could never be tried again with
 * success, and the person who identified would have to start over. Reconnecting after a drop
 * takes a fraction of this; a page waits no longer.
 */
const OUTCOME_WRITE_TRIED_FOR_MS = 5_000;

/**
 * Where a login enters the broker. oidc-provider sends the browser to /interaction/<uid> (or
 * straight to the page of the one eID a person waits on, see LoginSteps.interactionUrl); from
 * there the eID is chosen (from acr_values, or by the person on the picker), its plugin runs
 * under /interaction/<uid>/<eid>/, and its outcome goes back to the client through the provider.
 * The same steps are open to custom frontends as JSON under /interaction/<uid>/api/.
 */
export function loginRoutes(deps: LoginDependencies): LoginRoutes {
  const { registry, views, store } = deps;
  const steps = loginSteps(deps);
  const formsOrJson = submissionGuard(deps.formTokens, (ctx) => routeState(ctx).interaction.uid, 'json-or-form');

  function redirect(ctx: Context, url: string) {
    ctx.status = 303;
    ctx.redirect(url);
  }

  /**
   * Runs the chosen eID as it declares: a person who waits goes to its page (which starts it
   * through the API); otherwise it starts here and the browser follows its answer.
   */
  async function begin(ctx: Context, option: EidOption) {
    const { plugin } = option;
    const result = plugin.flow === 'wait' ? await steps.enter(ctx, option) : await steps.start(ctx, option, {});
    if ('redirectTo' in result) return redirect(ctx, result.redirectTo);
    if ('outcome' in result) return redirect(ctx, await steps.finish(ctx, plugin, result.outcome));
    throw new Error(`${plugin.id} runs by redirect but answered its start with a status`);
  }

  const pages = new Router({ ...EXACT_CASE, prefix: '/interaction/:uid' });
  pages.use(steps.loadInteraction, formsOrJson);

  pages.get('/', async (ctx) => {
    // An ended login's entry would begin it again (an eID fixed for it starts): the expired page instead.
    await steps.refuseEnded(ctx);
    const refused = await steps.refusedTo(ctx);
    if (refused) return redirect(ctx, refused);
    const chosen = steps.choice(ctx);
    if (chosen.kind === 'eid') return begin(ctx, chosen);
    const offered = steps.offered(ctx);
    const locale = steps.locale(ctx);
    const t = views.translator(locale);
    views.render(ctx, 'picker', {
      uid: routeState(ctx).interaction.uid,
      client: steps.clientShown(ctx),
      notice: await steps.notice(ctx),
      groups: [...new Set(offered.map((eid) => eid.country))].map((country) => ({
        country,
        name: t(`country.${country}`, {}, countryName(country, locale)),
        options: offered.filter((eid) => eid.country === country),
      })),
    });
  });

  pages.post('/select', async (ctx) => {
    const { eid } = await readBody(ctx);
    const refused = await steps.refusedTo(ctx);
    if (refused) return redirect(ctx, refused);
    const chosen = steps.choice(ctx);
    const option = chosen.kind === 'picker' ? chosen.options.find((o) => o.plugin.id === eid) : undefined;
    // A choice the page never offered (a changed form, an eID no longer offered): said as such, with the picker again as the next step.
    if (!option) {
      const chooseAgain = `/interaction/${encodeURIComponent(routeState(ctx).interaction.uid)}/`;
      throw new HttpError(400, 'invalid_request', 'That eID is not offered for this login.', undefined, { during: 'eid_choice', chooseAgain });
    }
    await begin(ctx, option);
  });

  /**
   * Cancel on any of the broker's pages: a plain form post, so it works without JavaScript too.
   * An eID's page leaves that eID (back to the picker, when the login returns there); the
   * picker and the error page send `leave=login`, which ends the login at the client.
   */
  pages.post('/cancel', async (ctx) => {
    const { leave } = await readBody(ctx);
    redirect(ctx, await steps.abandon(ctx, leave === 'login' ? 'login' : 'eid'));
  });

  /**
   * The forms' addresses by GET: the address of a page drawn for their post (a choice not offered,
   * the login over), entered again in the address bar. The login's own page says where it stands
   * (the picker, or that it is over), rather than a refusal of the method blaming the service.
   */
  pages.get(['/select', '/cancel'], (ctx) => redirect(ctx, `/interaction/${encodeURIComponent(routeState(ctx).interaction.uid)}/`));

  /**
   * Where the browser lands after an upstream callback, carrying the outcome into the
   * interaction. The outcome is deleted once the interaction holds it, not before: a store that
   * fails in between leaves it for the page's Try again.
   */
  pages.get('/complete', async (ctx) => {
    const { uid } = routeState(ctx).interaction;
    const key = storeKey('loginOutcome', uid);
    const stored = await store.get(key);
    if (!stored) {
      // Already carried in (a second return of the same answer) or never parked: where the login stands.
      await steps.refuseEnded(ctx);
      return redirect(ctx, `/interaction/${encodeURIComponent(uid)}/`);
    }
    const { eid, outcome } = JSON.parse(stored.value) as { eid: string; outcome: EidOutcome };
    const plugin = registry.get(eid);
    if (!plugin) throw sessionExpired();
    const returnTo = await steps.finish(ctx, plugin, outcome);
    await store.delete(key);
    redirect(ctx, returnTo);
  });

  const pluginRouters = registry.all
    .filter((plugin) => plugin.routes)
    .map((plugin) => {
      const router = new Router<LoginState>({ ...EXACT_CASE, prefix: `/interaction/:uid/${plugin.id}` });
      router.use(steps.loadInteraction, formsOrJson, async (ctx, next) => {
        const state = routeState(ctx);
        state.returnsToPicker = steps.returnsToPicker(ctx);
        state.login = {
          uid: state.interaction.uid,
          request: steps.loginRequest(ctx, plugin),
          finish: (outcome) => steps.finish(ctx, plugin, outcome),
        };
        await next();
      });
      plugin.routes!(router);
      return router as unknown as Router;
    });

  /**
   * Waits, `limitMs` at most, until the request that took the same answer has parked its
   * outcome, or the login has ended (its outcome already carried in, or the login gone).
   */
  async function earlierReturnDone(uid: string, limitMs: number): Promise<void> {
    const until = Date.now() + limitMs;
    while (Date.now() < until) {
      if (await store.get(storeKey('loginOutcome', uid))) return;
      const interaction = await deps.provider.Interaction.find(uid);
      if (!interaction || interaction.result) return;
      await sleep(EARLIER_RETURN_CHECKED_EVERY_MS);
    }
  }

  /**
   * Upstream eIDs return here; the outcome is parked until the browser is back in its
   * interaction. The code in the answer is spent once the eID exchanges it, so a shutdown lets
   * the request finish for the eID's time limit. The same answer again while the first request
   * exchanges it (a reload) follows that request's outcome: the browser follows only the last.
   */
  const callbacks = new Router(EXACT_CASE);
  const callback: Middleware = async (ctx) => {
    const plugin = registry.get(ctx.params.eid ?? '');
    if (!plugin?.callback) throw new HttpError(404, 'not_found', 'There is nothing at this address.');
    const limitMs = plugin.callbackTimeLimitMs ?? 0;
    deps.holdShutdown(ctx.res, limitMs);
    const result = await plugin.callback(ctx).catch(async (err: unknown) => {
      throw err instanceof HttpError && err.page?.during === 'eid_return' ? await steps.withLastClient(err, ctx) : err;
    });
    if ('taken' in result) await earlierReturnDone(result.uid, limitMs);
    else {
      const parked = JSON.stringify({ eid: plugin.id, outcome: result.outcome });
      await whileUnavailable(() => store.set(storeKey('loginOutcome', result.uid), parked, OUTCOME_TTL_SECONDS), OUTCOME_WRITE_TRIED_FOR_MS);
    }
    redirect(ctx, `/interaction/${encodeURIComponent(result.uid)}/complete`);
  };
  callbacks.get('/eid/:eid/callback', callback);
  callbacks.post('/eid/:eid/callback', callback);
  callbacks.get('/eid/:eid/jwks.json', async (ctx) => {
    const plugin = registry.get(ctx.params.eid ?? '');
    if (!plugin?.jwks) throw new HttpError(404, 'not_found', 'There is nothing at this address.');
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = await plugin.jwks();
  });

  const jsonOnly = submissionGuard(deps.formTokens, (ctx) => routeState(ctx).interaction.uid, 'json');
  return {
    routers: [frontendApi(steps, deps, jsonOnly), serviceStatus(registry, store), ...pluginRouters, pages, callbacks],
    interactionUrl: steps.interactionUrl,
    keptPoll: keptPoll(steps, jsonOnly, deps.metrics),
  };
}
