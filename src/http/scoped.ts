import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';

/**
 * Routers as one middleware that runs only for requests under one of `prefixes`: every other
 * request (the token endpoint, discovery, …) passes by at the cost of a few string compares,
 * instead of being matched against each router's routes in turn.
 */
export function routersUnder(prefixes: readonly string[], routers: Router[]): Middleware {
  const chain = routers.flatMap((router) => [router.routes(), router.allowedMethods()]) as unknown as Middleware[];
  const run = (index: number, ctx: Parameters<Middleware>[0], next: () => Promise<unknown>): Promise<unknown> =>
    index === chain.length ? next() : Promise.resolve(chain[index]!(ctx, () => run(index + 1, ctx, next)));
  return onlyWhere((ctx) => prefixes.some((prefix) => ctx.path.startsWith(prefix)), (ctx, next) => run(0, ctx, next));
}

/**
 * `middleware` for the requests `applies` picks; every other request passes by at the cost of
 * that test. Like every pass-through step of the broker's stack, it returns `next()` rather
 * than awaiting it: an async step costs each request another promise and microtask turns.
 */
export function onlyWhere(applies: (ctx: Context) => boolean, middleware: Middleware): Middleware {
  return (ctx, next) => (applies(ctx) ? middleware(ctx, next) : next());
}
