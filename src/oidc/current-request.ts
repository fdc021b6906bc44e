import Provider from 'oidc-provider';

/**
 * The request oidc-provider is serving, if any: it keeps it in an AsyncLocalStorage, readable as
 * Provider.ctx (not in its types). The same object its callbacks (findAccount, events) are given
 * as `ctx`, so what is remembered per request can be keyed by it in a WeakMap.
 */
export function currentRequest(): object | undefined {
  return (Provider as unknown as { ctx?: object }).ctx;
}
