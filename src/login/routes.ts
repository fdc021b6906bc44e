import Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import Provider, { errors } from 'oidc-provider';
import type { EidOutcome, EidPlugin, LoginRequest, LoginState } from '../eids/plugin.js';
import type { EidRegistry } from '../eids/registry.js';
import { readBody } from '../http/body.js';
import { HttpError } from '../http/errors.js';
import type { LocaleState, Views } from '../http/views.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import { chooseEid, requestedAcr, type EidOption } from './choose-eid.js';
import type { Finisher } from './finish.js';

export interface LoginDependencies {
  provider: Provider;
  registry: EidRegistry;
  finish: Finisher;
  views: Views;
  store: Store;
  issuer: string;
  log: Logger;
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** What loadLogin leaves on ctx.state for every route under /interaction/<uid>. */
interface RouteState extends LoginState, LocaleState {
  interaction: Interaction;
  client: ClientView;
}

const routeState = (ctx: Context) => ctx.state as RouteState;

interface ClientView {
  clientId: string;
  displayName?: string;
  allowedEids?: string[];
}

/** How long an upstream's outcome waits for the browser to carry it into its interaction. */
const OUTCOME_TTL_SECONDS = 120;

const sessionExpired = () =>
  new HttpError(400, 'session_expired', 'This login has expired or was started in another browser. Start again at the service.');

/**
 * Where a login enters the broker. oidc-provider sends the browser to /interaction/<uid>; from
 * there the eID is chosen (from acr_values, or by the person on the picker), its plugin runs
 * under /interaction/<uid>/<eid>/, and its outcome goes back to the client through the provider.
 */
export function loginRoutes(deps: LoginDependencies): Router[] {
  const { provider, registry, views, store, log } = deps;

  /**
   * Every route under /interaction/<uid> first proves that the request belongs to a live
   * interaction of this browser: the provider's interaction cookie (SameSite=Lax, so a
   * cross-site form post cannot carry it) must name this uid.
   */
  async function loadLogin(ctx: Context, next: Next) {
    let interaction: Interaction;
    try {
      interaction = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      if (err instanceof errors.SessionNotFound) throw sessionExpired();
      throw err;
    }
    if (interaction.uid !== ctx.params.uid || interaction.prompt.name !== 'login') throw sessionExpired();
    if (ctx.method !== 'GET' && ctx.get('origin') && ctx.get('origin') !== new URL(deps.issuer).origin) {
      throw new HttpError(403, 'invalid_request', 'The request did not come from the broker\'s own pages.');
    }
    const clientId = String(interaction.params.client_id);
    const client = await provider.Client.find(clientId);
    if (!client) throw sessionExpired();
    const metadata = client.metadata() as { display_name?: string; allowed_eids?: string[] };
    const state = routeState(ctx);
    state.interaction = interaction;
    state.client = { clientId, displayName: metadata.display_name, allowedEids: metadata.allowed_eids };
    state.uiLocales = typeof interaction.params.ui_locales === 'string' ? interaction.params.ui_locales : undefined;
    await next();
  }

  function loginRequest(ctx: Context, acr?: string): LoginRequest {
    const { interaction, client } = routeState(ctx);
    const { params, uid } = interaction;
    return {
      uid,
      ...(acr ? { acr } : {}),
      clientId: client.clientId,
      ...(typeof params.login_hint === 'string' ? { loginHint: params.login_hint } : {}),
      locale: views.localeOf(ctx),
      ip: ctx.ip,
      userAgent: ctx.get('user-agent'),
    };
  }

  async function finishWith(ctx: Context, plugin: EidPlugin, outcome: EidOutcome) {
    ctx.status = 303;
    ctx.redirect(await deps.finish(ctx, routeState(ctx).interaction, plugin, outcome));
  }

  async function refuse(ctx: Context, error: string, description: string) {
    const url = await provider.interactionResult(ctx.req, ctx.res, { error, error_description: description }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(url);
  }

  async function startEid(ctx: Context, { plugin, acr }: EidOption) {
    log.info({ eid: plugin.id, client_id: routeState(ctx).client.clientId, acr }, 'eID login started');
    let result: Awaited<ReturnType<EidPlugin['start']>>;
    try {
      result = await plugin.start(loginRequest(ctx, acr));
    } catch (err) {
      log.error({ err, eid: plugin.id }, 'eID could not start a login');
      return finishWith(ctx, plugin, { failure: { error: 'server_error', description: `${plugin.id} could not start a login.` } });
    }
    if ('outcome' in result) return finishWith(ctx, plugin, result.outcome);
    ctx.status = 303;
    ctx.redirect(result.redirectTo);
  }

  function acrValuesOf(ctx: Context): string | undefined {
    const acrValues = routeState(ctx).interaction.params.acr_values;
    return typeof acrValues === 'string' ? acrValues : undefined;
  }

  function choice(ctx: Context) {
    return chooseEid(registry, acrValuesOf(ctx), routeState(ctx).client.allowedEids);
  }

  const core = new Router({ prefix: '/interaction/:uid' });
  core.use(loadLogin);

  core.get('/', async (ctx) => {
    const chosen = choice(ctx);
    if (chosen.kind === 'refused') return refuse(ctx, chosen.error, chosen.description);
    if (chosen.kind === 'eid') return startEid(ctx, chosen);
    const t = views.translator(views.localeOf(ctx));
    const { interaction, client } = routeState(ctx);
    const countries = [...new Set(chosen.options.map((o) => o.plugin.country))];
    views.render(ctx, 'picker', {
      uid: interaction.uid,
      clientName: client.displayName ?? client.clientId,
      groups: countries.map((country) => ({
        country,
        options: chosen.options
          .filter((o) => o.plugin.country === country)
          .map((o) => ({ id: o.plugin.id, name: t(`eid.${o.plugin.id}`, {}, o.plugin.id) })),
      })),
    });
  });

  core.post('/select', async (ctx) => {
    const { eid } = await readBody(ctx);
    const chosen = choice(ctx);
    const option = chosen.kind === 'picker' ? chosen.options.find((o) => o.plugin.id === eid) : undefined;
    if (!option) throw new HttpError(400, 'invalid_request', 'That eID is not offered for this login.');
    await startEid(ctx, option);
  });

  core.post('/cancel', async (ctx) => {
    await refuse(ctx, 'access_denied', 'The person cancelled the login.');
  });

  /** Where the browser lands after an upstream callback, carrying the outcome into the interaction. */
  core.get('/complete', async (ctx) => {
    const key = `login-outcome:${routeState(ctx).interaction.uid}`;
    const stored = await store.get(key);
    if (!stored) throw sessionExpired();
    await store.delete(key);
    const { eid, outcome } = JSON.parse(stored.value) as { eid: string; outcome: EidOutcome };
    const plugin = registry.get(eid);
    if (!plugin) throw sessionExpired();
    await finishWith(ctx, plugin, outcome);
  });

  const pluginRouters = registry.all
    .filter((plugin) => plugin.routes)
    .map((plugin) => {
      const router = new Router<LoginState>({ prefix: `/interaction/:uid/${plugin.id}` });
      router.use(loadLogin, async (ctx, next) => {
        const state = routeState(ctx);
        state.login = {
          uid: state.interaction.uid,
          request: loginRequest(ctx, requestedAcr(plugin, acrValuesOf(ctx))),
          finish: (outcome) => deps.finish(ctx, state.interaction, plugin, outcome),
        };
        await next();
      });
      plugin.routes!(router);
      return router;
    });

  /** Upstream eIDs return here; the outcome is parked until the browser is back in its interaction. */
  const callbacks = new Router();
  const callback: Middleware = async (ctx) => {
    const plugin = registry.get(ctx.params.eid ?? '');
    if (!plugin?.callback) throw new HttpError(404, 'not_found', 'There is nothing at this address.');
    const { uid, outcome } = await plugin.callback(ctx);
    await store.set(`login-outcome:${uid}`, JSON.stringify({ eid: plugin.id, outcome }), OUTCOME_TTL_SECONDS);
    ctx.status = 303;
    ctx.redirect(`/interaction/${encodeURIComponent(uid)}/complete`);
  };
  callbacks.get('/eid/:eid/callback', callback);
  callbacks.post('/eid/:eid/callback', callback);

  return [core, ...(pluginRouters as unknown as Router[]), callbacks];
}
