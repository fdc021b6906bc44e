import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/load.js';
import { codeRoot, projectRoot } from '../paths.js';
import { isProductionConfiguration } from '../config/environment.js';

/** A claim's value when it is a non-empty string; anything else (absent, a number, "") is undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

/**
 * Refuses `eids.<id>.mode: simulator` in a production configuration (a simulator approves anyone),
 * unless the operator set `allow_simulator_in_production`.
 */
export function refuseSimulatorInProduction(id: string, issuer: string, allowed: boolean): void {
  if (isProductionConfiguration(issuer) && !allowed) {
    throw new ConfigError(
      `eids.${id}.mode: simulator is refused in a production configuration (it approves anyone); set allow_simulator_in_production to override`,
    );
  }
}

/**
 * The folder of the plugin module at `moduleUrl` (its `import.meta.url`) in the source tree, where
 * the plugin's own files are (`EidPlugin.assets`): the same whether the code runs from
 * providers/ (tests), bundled (dist/bin/) or compiled to any other build folder.
 */
export function pluginFolder(moduleUrl: string): string {
  return join(projectRoot, relative(codeRoot, dirname(fileURLToPath(moduleUrl))));
}
