import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { wrongMethod } from './errors.js';

/**
 * Options of every router of the broker's own: a route's path matches as written, in its case.
 * @koa/router folds case by default, while the steps before it that know a route by its path
 * (the kept poll, the access log's routine requests, routersUnder's prefixes) compare it as
 * written: /interaction/<uid>/API/poll passed them by and was served all the same.
 */
export const EXACT_CASE = { sensitive: true } as const;

/**
 * Routers as one middleware that runs only for requests under one of `prefixes`: every other
 * request (the token endpoint, discovery, …) passes by at the cost of a few string compares,
 * instead of being matched against each router's routes in turn.
 */
export function routersUnder(prefixes: readonly string[], routers: Router[]): Middleware {
  return onlyWhere((ctx) => prefixes.some((prefix) => ctx.path.startsWith(prefix)), routesOf(routers));
}

/**
 * Each router's routes and allowedMethods in turn, as one middleware, a method that an address
 * of theirs does not take answered as every other error is (see wrongMethod): 405 with the
 * methods it takes in Allow, or 501. Alone, allowedMethods would set only the status and Allow,
 * once a request that no route took has gone on and been answered "nothing at this address" —
 * and that body would stay.
 */
export function routesOf(routers: Router[]): Middleware {
  const routes = chain(routers.flatMap((router) => [router.routes(), router.allowedMethods()]) as unknown as Middleware[]);
  return (ctx, next) => {
    /** The status the request had when it came back unanswered by any route, before allowedMethods saw it. */
    let unrouted: number | undefined;
    const passOn = () =>
      next().then(() => {
        unrouted = ctx.status;
      });
    return routes(ctx, passOn).then(() => {
      const refusal = unrouted !== undefined && ctx.status !== unrouted ? wrongMethod[ctx.status] : undefined;
      if (refusal) throw refusal();
    });
  };
}

/** Middleware run one after the other as one step, as Koa runs its own, then the step after it. */
export function chain(steps: readonly Middleware[]): Middleware {
  const run = (index: number, ctx: Context, next: () => Promise<unknown>): Promise<unknown> =>
    index === steps.length ? next() : Promise.resolve(steps[index]!(ctx, () => run(index + 1, ctx, next)));
  return (ctx, next) => run(0, ctx, next);
}

/**
 * `middleware` for the requests `applies` picks; every other request passes by at the cost of
 * that test. Like every pass-through step of the broker's stack, it returns `next()` rather
 * than awaiting it: an async step costs each request another promise and microtask turns.
 */
export function onlyWhere(applies: (ctx: Context) => boolean, middleware: Middleware): Middleware {
  return (ctx, next) => (applies(ctx) ? middleware(ctx, next) : next());
}
