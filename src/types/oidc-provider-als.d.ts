/**
 * oidc-provider's AsyncLocalStorage of the request it serves (what `Provider.ctx` reads). The
 * package ships no types for its internal modules; the broker shares this one (src/http/request-scope.ts).
 */
declare module 'oidc-provider/lib/helpers/als.js' {
  import type { AsyncLocalStorage } from 'node:async_hooks';

  const als: AsyncLocalStorage<unknown>;
  export default als;
}
