import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';

/**
 * Routers as one middleware that runs only for requests under one of `prefixes`: every other
 * request (the token endpoint, discovery, …) passes by at the cost of a few string compares,
 * instead of being matched against each router's routes in turn.
 */
export function routersUnder(prefixes: readonly string[], routers: Router[]): Middleware {
  const routes = routers.flatMap((router) => [router.routes(), router.allowedMethods()]) as unknown as Middleware[];
  return onlyWhere((ctx) => prefixes.some((prefix) => ctx.path.startsWith(prefix)), chain(routes));
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
