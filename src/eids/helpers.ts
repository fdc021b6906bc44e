import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import type { ConfigIssue } from '../config/load.js';
import { codeRoot, projectRoot } from '../paths.js';
import { isProductionConfiguration } from '../config/environment.js';

/** A claim's value when it is a non-empty string; anything else (absent, a number, "") is undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

/**
 * The problem of `mode: simulator` in a production configuration (a simulator approves anyone),
 * unless the operator set `allow_simulator_in_production`; none otherwise. For an eID's check.
 */
export function simulatorIssues(settings: { mode: string; allow_simulator_in_production: boolean }, issuer: string): ConfigIssue[] {
  if (settings.mode !== 'simulator' || settings.allow_simulator_in_production || !isProductionConfiguration(issuer)) return [];
  return [{ path: ['mode'], message: 'simulator is refused in a production configuration (it approves anyone); set allow_simulator_in_production to override' }];
}

/**
 * The content of the file a setting names (at `path` in the eID's section), for an eID's check:
 * undefined when it cannot be read, with that problem added to `issues`.
 */
export function readSettingFile(file: string, path: ConfigIssue['path'], issues: ConfigIssue[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    issues.push({ path, message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
    return undefined;
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
