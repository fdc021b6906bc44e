import type Router from '@koa/router';
import type { Middleware } from 'koa';

/**
 * Routers as one middleware that runs only for requests under one of `prefixes`: every other
 * request (the token endpoint, discovery, …) passes by at the cost of a few string compares,
 * instead of being matched against each router's routes in turn.
 */
export function routersUnder(prefixes: readonly string[], routers: Router[]): Middleware {
  const chain = routers.flatMap((router) => [router.routes(), router.allowedMethods()]) as unknown as Middleware[];
  const run = (index: number, ctx: Parameters<Middleware>[0], next: () => Promise<unknown>): Promise<unknown> =>
    index === chain.length ? next() : Promise.resolve(chain[index]!(ctx, () => run(index + 1, ctx, next)));
  return async (ctx, next) => {
    if (prefixes.some((prefix) => ctx.path.startsWith(prefix))) await run(0, ctx, next);
    else await next();
  };
}
