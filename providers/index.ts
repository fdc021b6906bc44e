import type { EidPluginFactory } from '../src/eids/plugin.js';
import { dkMitId } from './dk-mitid/index.js';
import { fiFtn } from './fi-ftn/index.js';
import { noBankId } from './no-bankid/index.js';
import { seBankId } from './se-bankid/index.js';

/**
 * The eIDs that ship with the broker, by id. A configuration enables one by having an
 * `eids.<id>` section; each lives in its own folder here, with its simulator beside it.
 */
export const builtInEids: Record<string, EidPluginFactory> = {
  'se-bankid': seBankId,
  'no-bankid': noBankId,
  'fi-ftn': fiFtn,
  'dk-mitid': dkMitId,
};

/** The section each built-in eID gets in the embedded default: its simulator. */
export const simulatedEids: Record<string, unknown> = {
  'se-bankid': { mode: 'simulator' },
  'no-bankid': { mode: 'simulator', nnin: true },
  'fi-ftn': { mode: 'simulator' },
  'dk-mitid': { mode: 'simulator', cpr: true },
};
