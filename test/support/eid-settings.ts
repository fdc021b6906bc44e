import { ConfigError } from '../../src/config/load.js';
import type { EidPluginFactory } from '../../src/eids/plugin.js';
import { checkEids } from '../../src/eids/registry.js';

/**
 * An eID's section checked as the broker checks it before any eID starts (the eID's `check`, its
 * problems named in full, e.g. `eids.se-bankid.qr_size`): the settings its `start` would get, or
 * a ConfigError naming every problem. `issuer` is the broker's (a production one refuses simulators).
 */
export async function checkedSettings<Settings>(factory: EidPluginFactory<Settings>, id: string, section: unknown, issuer = 'http://localhost:3000'): Promise<Settings> {
  const { eids, problems } = await checkEids({ [id]: section }, { [id]: factory as EidPluginFactory }, issuer);
  if (problems.length) throw new ConfigError(problems);
  return eids[0]!.settings as Settings;
}

/** The problems the check of an eID's section finds, named in full; none when it passes. */
export async function settingsProblems(factory: EidPluginFactory<unknown>, id: string, section: unknown, issuer?: string): Promise<readonly string[]> {
  try {
    await checkedSettings(factory, id, section, issuer);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}
