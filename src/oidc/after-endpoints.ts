import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { providerRoutePaths } from './endpoint-methods.js';

/**
 * What the broker does once one of oidc-provider's endpoints has answered: amends the answer
 * (CIBA's `interval`, the broker's own pages) or acts on it (a confirmed logout's frames).
 */
export interface AfterEndpoint {
  /** oidc-provider's names of the routes whose answers it takes. */
  routes: readonly string[];
  after(ctx: KoaContextWithOIDC): void | Promise<void>;
}

type ProviderStep = Parameters<Provider['use']>[0];

/**
 * The one step of oidc-provider's app through which every AfterEndpoint runs, each once the
 * endpoints of its routes have answered, in the order given. Which steps a request takes is
 * declared here, by route, rather than by a step of its own per concern that every request
 * passes through: a request to an endpoint no step takes (revocation) pays one lookup of its path.
 */
export function afterEndpoints(provider: Provider, steps: readonly AfterEndpoint[]): void {
  const stepsAt = stepsByPath(provider, steps);
  const step: ProviderStep = (koaCtx, next) => {
    const taken = stepsAt(koaCtx.path);
    if (!taken) return next();
    return next().then(() => runInOrder(koaCtx as KoaContextWithOIDC, taken));
  };
  provider.use(step);
}

/**
 * Runs the steps of the route oidc-provider answered at: a request it routed nowhere (a wrong
 * method at the address) has none, and of routes that share an address, each takes its own.
 */
async function runInOrder(ctx: KoaContextWithOIDC, steps: readonly AfterEndpoint[]): Promise<void> {
  const route = ctx.oidc?.route;
  if (!route) return;
  for (const step of steps) if (step.routes.includes(route)) await step.after(ctx);
}

/** The steps each request path takes: by exact path, else by the pattern of a path with an id in it (/auth/<uid>). */
function stepsByPath(provider: Provider, steps: readonly AfterEndpoint[]): (path: string) => AfterEndpoint[] | undefined {
  const exact = new Map<string, AfterEndpoint[]>();
  const patterned: Array<{ pattern: RegExp; steps: AfterEndpoint[] }> = [];
  for (const { route, path, pattern } of providerRoutePaths(provider)) {
    const taken = steps.filter((step) => step.routes.includes(route));
    if (!taken.length) continue;
    if (pattern) patterned.push({ pattern, steps: taken });
    // Routes that share an address (reading, updating, deleting a client) share its steps, each once.
    else exact.set(path, [...new Set([...(exact.get(path) ?? []), ...taken])]);
  }
  return (path) => exact.get(path) ?? patterned.find(({ pattern }) => pattern.test(path))?.steps;
}
