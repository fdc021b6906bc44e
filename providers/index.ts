import type { EidPluginFactory } from '../src/eids/sdk.js';

/** A factory that loads its eID's module when a configuration first enables that eID: its check is the first use. */
const loadedWhenUsed = (load: () => Promise<EidPluginFactory>): EidPluginFactory => ({
  check: async (section, context) => (await load()).check(section, context),
  start: async (context) => (await load()).start(context),
});

/**
 * The eIDs that ship with the broker, by id. A configuration enables one by having an
 * `eids.<id>` section; each lives in its own folder here, with its simulator beside it. Only
 * the enabled ones are loaded, so a broker does not start more slowly for eIDs it does not run.
 */
export const builtInEids: Record<string, EidPluginFactory> = {
  'se-bankid': loadedWhenUsed(async () => (await import('./se-bankid/index.js')).seBankId),
  'se-freja': loadedWhenUsed(async () => (await import('./se-freja/index.js')).seFreja),
  'no-bankid': loadedWhenUsed(async () => (await import('./no-bankid/index.js')).noBankId),
  'fi-ftn': loadedWhenUsed(async () => (await import('./fi-ftn/index.js')).fiFtn),
  'dk-mitid': loadedWhenUsed(async () => (await import('./dk-mitid/index.js')).dkMitId),
  'cz-bankid': loadedWhenUsed(async () => (await import('./cz-bankid/index.js')).czBankId),
};

/** The section each built-in eID gets in the embedded default: its simulator. */
export const simulatedEids: Record<string, unknown> = {
  'se-bankid': { mode: 'simulator' },
  'se-freja': { mode: 'simulator' },
  'no-bankid': { mode: 'simulator', nnin: true },
  'fi-ftn': { mode: 'simulator' },
  'dk-mitid': { mode: 'simulator', cpr: true },
  'cz-bankid': { mode: 'simulator', address: true },
};

/**
 * Keys the broker's own sections held before they became an eID's: a configuration still setting
 * one is refused (exit 2) with where it is now.
 */
export const movedKeys: Record<string, string> = {
  'ui.qr_size': 'eids.se-bankid.qr_size (and eids.se-freja.qr_size)',
  'ui.show_qr_help': 'eids.se-bankid.show_qr_help (and eids.se-freja.show_qr_help)',
};

/**
 * Fields of the eIDs' own records that are secrets (BankID's QR secret, which must never leave the
 * server): the logger censors them wherever a line carries them, as it does the broker's own.
 */
export const eidSecretFields: readonly string[] = ['qrStartSecret'];
