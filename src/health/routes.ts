import type { Context, Middleware } from 'koa';
import { isRead } from '../http/errors.js';
import { onlyWhere } from '../http/scoped.js';
import type { EidOperations } from '../eids/telemetry.js';
import type { EidRegistry } from '../eids/registry.js';
import type { Logger } from '../log.js';
import { storeKey } from '../store/keys.js';
import { StoreFullError, type Store } from '../store/store.js';

/** The health endpoints' addresses: each takes GET and HEAD. */
export const HEALTH_PATHS: readonly string[] = ['/health/live', '/health/ready'];

export interface HealthDependencies {
  store: Store;
  registry: EidRegistry;
  operations: EidOperations;
  /** The private keys ID tokens are signed with, as oidc-provider holds them. */
  signingKeyCount: number;
  log: Logger;
  /** Whether the broker is shutting down: then it is not ready, whatever else holds. */
  draining: () => boolean;
}

/**
 * Health endpoints, for a load balancer and for people:
 *
 * - /health/live: 200 while the process serves requests at all (restart it when not).
 * - /health/ready: 200 when this instance can serve logins — the store answers a round trip, takes a write, and
 *   the signing keys are loaded — else 503, so the load balancer stops sending it requests.
 *   From the moment the broker starts to shut down it answers 503 (`"shutdown": "draining"`) on
 *   the connections still open. Either way the body says which check failed, each eID's availability and circuit, and
 *   warnings (a certificate that expires soon). An eID whose circuit is open does not make the
 *   instance unready: the other eIDs still work, and another instance would not do better.
 */
export function healthRoutes(deps: HealthDependencies): Middleware {
  const { store, registry, operations, log } = deps;
  let wasReady = true;

  const isHealthCheck = (ctx: Context) => HEALTH_PATHS.includes(ctx.path) && isRead(ctx.method);
  return onlyWhere(isHealthCheck, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (ctx.path === '/health/live') {
      ctx.body = { status: 'live' };
      return;
    }
    const storeCheck = await checkStore(store);
    const keysCheck = deps.signingKeyCount > 0 ? 'ok' : 'missing';
    const draining = deps.draining();
    const ready = storeCheck === 'ok' && keysCheck === 'ok' && !draining;
    if (ready !== wasReady) {
      if (ready) log.info('ready again');
      else log.warn({ store: storeCheck, signing_keys: keysCheck, draining }, 'not ready');
      wasReady = ready;
    }
    ctx.status = ready ? 200 : 503;
    if (!ready) ctx.set('Retry-After', '1');
    const warnings = operations.certificates.warnings();
    ctx.body = {
      status: ready ? 'ready' : 'not_ready',
      checks: { store: storeCheck, signing_keys: keysCheck, ...(draining ? { shutdown: 'draining' } : {}) },
      eids: operations.health(registry.all),
      ...(warnings.length ? { warnings } : {}),
    };
  });
}

const PROBE_KEY = storeKey('readinessProbe');
const PROBE_TTL_SECONDS = 10;

/**
 * The store's part of readiness: a round trip (to every master of a Cluster), then a write. A
 * full Redis answers the round trip but refuses every write, and so every login.
 */
async function checkStore(store: Store): Promise<'ok' | 'full' | 'unreachable'> {
  try {
    await store.ping();
    await store.set(PROBE_KEY, 'ready', PROBE_TTL_SECONDS);
    return 'ok';
  } catch (error) {
    return error instanceof StoreFullError ? 'full' : 'unreachable';
  }
}
