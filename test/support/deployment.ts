import { join } from 'node:path';
import { projectRoot } from '../../src/paths.js';
import { startBalancer, type Balancer } from './balancer.js';
import { webClient } from './broker.js';
import { spawnBroker, writeConfig, type BrokerProcess } from './process.js';
import { findFreePort, redisUrl } from './redis.js';

/** Node's flags for an instance whose host clock runs 20 s ahead of the others' (clock-ahead.mjs). */
export const CLOCK_AHEAD: readonly string[] = ['--import', join(projectRoot, 'test/support/clock-ahead.mjs')];

export interface Deployment {
  balancer: Balancer;
  /** Each broker process with its own address, for a test that picks the instance itself. */
  instances: Array<{ process: BrokerProcess; url: string }>;
  stop(): Promise<void>;
}

/** Settings, or settings made for the deployment's issuer (an upstream eID registers its redirect_uri there). */
type DeploymentSettings = Record<string, unknown> | ((issuer: string) => Promise<Record<string, unknown>>);

/**
 * Broker processes as the instances of one deployment: the same configuration but for the
 * port (`settings` on top of it), one Redis and key prefix, behind a round-robin load balancer
 * with no sticky sessions, whose address is the issuer.
 */
export async function startDeployment(
  prefix: string,
  given: DeploymentSettings,
  count = 2,
  /** Node's flags for the instance of each index (a module preloaded into one of them). */
  nodeFlagsOf: (index: number) => readonly string[] = () => [],
): Promise<Deployment> {
  const ports = await Promise.all(Array.from({ length: count }, () => findFreePort()));
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  const balancer = await startBalancer(urls);
  const settings = typeof given === 'function' ? await given(balancer.url) : given;
  const instances = ports.map((port, i) => {
    const config = {
      issuer: balancer.url,
      port,
      trust_proxy: 1,
      redis: { url: redisUrl, key_prefix: prefix },
      clients: [webClient],
      log: { level: 'info' },
      ...settings,
    };
    return { process: spawnBroker({ BROKER_CONFIG: writeConfig('broker.json', JSON.stringify(config)) }, [...nodeFlagsOf(i)]), url: urls[i]! };
  });
  await Promise.all(instances.map(({ process }) => process.listening()));
  return {
    balancer,
    instances,
    async stop() {
      await Promise.all(instances.map(({ process }) => process.stop()));
      await balancer.close();
    },
  };
}
