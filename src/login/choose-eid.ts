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
 * The acr values of `plugin` a client may use: every one, unless the client's allowed_eids leaves
 * the eID out (then none) or its allowed_acr_values narrows them. Both choosing the eID and the
 * acr value it runs with follow from this one list.
 */
export function permittedAcrValues(
  plugin: EidPlugin,
  allowedEids: readonly string[] | undefined,
  allowedAcrValues?: readonly string[],
): readonly string[] {
  if (allowedEids && !allowedEids.includes(plugin.id)) return [];
  return allowedAcrValues ? plugin.acrValues.filter((acr) => allowedAcrValues.includes(acr)) : plugin.acrValues;
}

/**
 * What an unauthorized_client refusal says, by whether acr_values asked for eIDs: in general, or
 * (`serving`) when the eIDs were also narrowed to those serving what the request needs, which is
 * then why none is left.
 */
const NOTHING_TO_USE: Record<'any' | 'asked', { general: string; serving: string }> = {
  any: { general: 'no eID is enabled for this client', serving: 'no eID this client may use serves' },
  asked: { general: 'this client may not use the eID or acr value asked for in acr_values', serving: 'no eID this client may use (with the acr_values asked for) serves' },
};

function nothingToUse(asked: keyof typeof NOTHING_TO_USE, serving: string | undefined): EidChoice {
  const words = NOTHING_TO_USE[asked];
  return { kind: 'refused', error: 'unauthorized_client', description: serving ? `${words.serving} ${serving}` : words.general };
}

/**
 * Decides where a login goes from the client's acr_values and what the client may use (its
 * allowed eIDs and acr values): exactly one eID → straight to it; none asked for or several →
 * the picker, limited to what the client may use. An acr value no eID serves is refused, so a
 * typo surfaces at once instead of silently becoming "any eID"; an eID or acr value the client
 * may not use is never offered, and asking only for such is refused with unauthorized_client.
 * `serving`: what the request needs that narrowed `allowedEids` ("authorization_details of type
 * sign"), which a refusal names.
 */
export function chooseEid(
  registry: EidRegistry,
  acrValues: string | undefined,
  allowedEids: readonly string[] | undefined,
  allowedAcrValues?: readonly string[],
  serving?: string,
): EidChoice {
  const permitted = new Map(registry.all.map((plugin) => [plugin, permittedAcrValues(plugin, allowedEids, allowedAcrValues)]));
  const option = (plugin: EidPlugin): EidOption => {
    const acr = requestedAcr(plugin, acrValues, allowedEids, allowedAcrValues);
    return acr ? { plugin, acr } : { plugin };
  };
  const requested = acrValues?.split(' ').filter(Boolean) ?? [];

  if (requested.length === 0) {
    const offered = registry.all.filter((plugin) => permitted.get(plugin)!.length > 0);
    if (offered.length === 0) return nothingToUse('any', serving);
    return offered.length === 1 ? { kind: 'eid', ...option(offered[0]!) } : { kind: 'picker', options: offered.map(option) };
  }

  const unknown = requested.find((acr) => !registry.byAcr(acr));
  if (unknown) return { kind: 'refused', error: 'invalid_request', description: `acr value ${unknown} is not supported` };
  const chosen = [...new Set(requested.map((acr) => registry.byAcr(acr)!).filter((plugin) => permitted.get(plugin)!.some((acr) => requested.includes(acr))))];
  if (chosen.length === 0) return nothingToUse('asked', serving);
  if (chosen.length === 1) return { kind: 'eid', ...option(chosen[0]!) };
  return { kind: 'picker', options: chosen.map(option) };
}

/**
 * The acr value an eID runs with: the first of acr_values it serves that the client may use
 * (they are in order of preference). With none asked for, the eID decides — unless the client
 * may not use the eID's most general value, then it runs with the first value the client may use.
 */
export function requestedAcr(
  plugin: EidPlugin,
  acrValues: string | undefined,
  allowedEids?: readonly string[],
  allowedAcrValues?: readonly string[],
): string | undefined {
  const permitted = permittedAcrValues(plugin, allowedEids, allowedAcrValues);
  const asked = acrValues?.split(' ').find((acr) => permitted.includes(acr));
  if (asked) return asked;
  return permitted[0] === plugin.acrValues[0] ? undefined : permitted[0];
}
