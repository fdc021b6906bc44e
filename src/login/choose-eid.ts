import type { EidRegistry } from '../eids/registry.js';
import type { EidPlugin } from '../eids/plugin.js';

/** One eID to offer, and the acr value asked for it, when one was. */
export interface EidOption {
  plugin: EidPlugin;
  acr?: string;
}

export type EidChoice =
  | ({ kind: 'eid' } & EidOption)
  | { kind: 'picker'; options: EidOption[] }
  | { kind: 'refused'; error: 'invalid_request' | 'unauthorized_client'; description: string };

/**
 * Decides where a login goes from the client's acr_values and allowed eIDs:
 * exactly one eID → straight to it; none asked for or several → the picker, limited to what
 * the client may use. An acr value no eID serves is refused, so a typo surfaces at once
 * instead of silently becoming "any eID"; an eID the client may not use is never offered.
 */
export function chooseEid(registry: EidRegistry, acrValues: string | undefined, allowedEids: readonly string[] | undefined): EidChoice {
  const allowed = (plugin: EidPlugin) => !allowedEids || allowedEids.includes(plugin.id);
  const requested = acrValues?.split(' ').filter(Boolean) ?? [];

  if (requested.length === 0) {
    const offered = registry.all.filter(allowed);
    if (offered.length === 0) {
      return { kind: 'refused', error: 'unauthorized_client', description: 'no eID is enabled for this client' };
    }
    return offered.length === 1 ? { kind: 'eid', plugin: offered[0]! } : { kind: 'picker', options: offered.map((plugin) => ({ plugin })) };
  }

  const unknown = requested.find((acr) => !registry.byAcr(acr));
  if (unknown) return { kind: 'refused', error: 'invalid_request', description: `acr value ${unknown} is not supported` };
  const chosen = new Map<EidPlugin, string>();
  for (const acr of requested) {
    const plugin = registry.byAcr(acr)!;
    if (allowed(plugin) && !chosen.has(plugin)) chosen.set(plugin, requestedAcr(plugin, acrValues)!);
  }
  const entries = [...chosen];
  if (entries.length === 0) {
    return { kind: 'refused', error: 'unauthorized_client', description: 'this client may not use the eID asked for in acr_values' };
  }
  if (entries.length === 1) {
    const [plugin, acr] = entries[0]!;
    return { kind: 'eid', plugin, acr };
  }
  return { kind: 'picker', options: entries.map(([plugin, acr]) => ({ plugin, acr })) };
}

/** The acr value an eID runs with: the first of acr_values it serves (they are in order of preference). */
export function requestedAcr(plugin: EidPlugin, acrValues: string | undefined): string | undefined {
  return acrValues?.split(' ').find((acr) => plugin.acrValues.includes(acr));
}
