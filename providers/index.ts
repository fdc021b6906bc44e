import type { EidPluginFactory } from '../src/eids/plugin.js';
import { seBankId } from './se-bankid/index.js';

/**
 * The eIDs that ship with the broker, by id. A configuration enables one by having an
 * `eids.<id>` section; each lives in its own folder here, with its simulator beside it.
 */
export const builtInEids: Record<string, EidPluginFactory> = {
  'se-bankid': seBankId,
};

/** The section each built-in eID gets in the embedded default: its simulator. */
export const simulatedEids: Record<string, unknown> = {
  'se-bankid': { mode: 'simulator' },
};
