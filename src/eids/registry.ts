import { ConfigError, describeIssue } from '../config/load.js';
import { isCountryCode } from '../identity/country.js';
import type { Logger } from '../log.js';
import { namespaceConflict, pluginNamespace } from '../store/keys.js';
import { scopedStore } from '../store/scoped-store.js';
import type { Store } from '../store/store.js';
import type { ZodType } from 'zod';
import type { CheckedSettings, EidPlugin, EidPluginFactory, EidTelemetry, PageRenderer } from './plugin.js';

/** Where whether an eID can take logins now is kept (EidOperations). */
export interface Availability {
  isAvailable(id: string): boolean;
}

/** The eIDs this broker runs, built from the configuration's `eids` sections. */
export class EidRegistry {
  readonly #byId: Map<string, EidPlugin>;
  readonly #byAcr: Map<string, EidPlugin>;
  readonly #availability: Availability;

  constructor(plugins: EidPlugin[], availability: Availability) {
    this.#availability = availability;
    this.#byId = new Map(plugins.map((plugin) => [plugin.id, plugin]));
    // Each acr value is one eID's: the check step refused any that two eIDs declared (checkEids).
    this.#byAcr = new Map(plugins.flatMap((plugin) => plugin.acrValues.map((acr) => [acr, plugin] as const)));
    for (const plugin of plugins) {
      // A plugin's country is a value it makes: the identity model only takes ISO 3166-1 codes.
      if (!isCountryCode(plugin.country.code)) throw new ConfigError(`eids.${plugin.id}: country ${plugin.country.code} is not an ISO 3166-1 alpha-2 code`);
    }
  }

  get(id: string): EidPlugin | undefined {
    return this.#byId.get(id);
  }

  byAcr(acr: string): EidPlugin | undefined {
    return this.#byAcr.get(acr);
  }

  /**
   * Whether an eID can take logins now, as its circuit breaker (`EidOperations`, where it is
   * kept) says; the picker and /api/status show it, and its starts fail fast.
   */
  isAvailable(id: string): boolean {
    return this.#availability.isAvailable(id);
  }

  get all(): EidPlugin[] {
    return [...this.#byId.values()];
  }

  get acrValues(): string[] {
    return [...this.#byAcr.keys()];
  }

  /** Every authorization_details type some eID serves, with the schema of each eID that declares it. */
  get authorizationDetailsTypes(): Map<string, ZodType[]> {
    const types = new Map<string, ZodType[]>();
    for (const plugin of this.all) {
      for (const [type, schema] of Object.entries(plugin.authorizationDetailsTypes ?? {})) types.set(type, [...(types.get(type) ?? []), schema]);
    }
    return types;
  }

  /** The ids of the eIDs that serve every one of these authorization_details types. */
  servingTypes(types: readonly string[]): string[] {
    return this.all.filter((plugin) => types.every((type) => plugin.authorizationDetailsTypes?.[type])).map((plugin) => plugin.id);
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((plugin) => plugin.close?.()));
  }
}

/** Each acr value a later eID declares that an earlier one serves already, as a problem of the later one's section. */
function acrConflicts(eids: ReadonlyArray<{ id: string; acrValues: readonly string[] }>): string[] {
  const servedBy = new Map<string, string>();
  return eids.flatMap(({ id, acrValues }) =>
    acrValues.flatMap((acr) => {
      const other = servedBy.get(acr);
      if (other === undefined) servedBy.set(acr, id);
      return other === undefined ? [] : [`eids.${id}: acr value ${acr} is already served by ${other}`];
    }),
  );
}

/** An eID whose section passed its check: what it declared, and how it starts. */
export interface CheckedEid extends CheckedSettings<unknown> {
  id: string;
  factory: EidPluginFactory;
}

/** What the check step of the `eids` sections found: the eIDs that passed, and every problem of those that did not. */
export interface EidsCheck {
  eids: CheckedEid[];
  problems: string[];
}

/**
 * The check step of every `eids` section, before any eID starts: sections no plugin can be made
 * of, and each eID's own check of its section (which starts nothing). Every problem is named by
 * its full key (`eids.se-bankid.client_certificate.pfx`).
 */
export async function checkEids(sections: Readonly<Record<string, unknown>>, factories: Readonly<Record<string, EidPluginFactory>>, issuer: string): Promise<EidsCheck> {
  const known = `known: ${Object.keys(factories).join(', ') || 'none'}`;
  // A broker without an eID would start, answer discovery, and refuse every login.
  if (Object.keys(sections).length === 0) return { eids: [], problems: [`eids: no eID is configured; add a section for at least one (${known})`] };
  const results = await Promise.all(
    Object.entries(sections).map(async ([id, section]): Promise<EidsCheck> => {
      const factory = factories[id];
      if (!factory) return { eids: [], problems: [`eids.${id}: no such eID (${known})`] };
      const conflict = namespaceConflict(id);
      if (conflict) return { eids: [], problems: [`eids.${id}: cannot be a plugin's id: ${conflict}`] };
      const checked = await checkOne(factory, id, section, issuer);
      return 'issues' in checked ? { eids: [], problems: checked.issues } : { eids: [{ ...checked, id, factory }], problems: [] };
    }),
  );
  const eids = results.flatMap((result) => result.eids);
  return { eids, problems: [...results.flatMap((result) => result.problems), ...acrConflicts(eids)] };
}

/** One eID's check, its problems named in full; a ConfigError a plugin throws from its check counts as its problems. */
async function checkOne(factory: EidPluginFactory, id: string, section: unknown, issuer: string): Promise<CheckedSettings<unknown> | { issues: string[] }> {
  try {
    const checked = await factory.check(section, { id, issuer });
    return 'issues' in checked ? { issues: checked.issues.map((issue) => describeIssue(issue, ['eids', id])) } : checked;
  } catch (err) {
    if (err instanceof ConfigError) return { issues: [...err.problems] };
    throw err;
  }
}

/** Starts the checked eIDs (checkEids), each with its settings. */
export async function createRegistry(
  checked: readonly CheckedEid[],
  shared: { issuer: string; store: Store; log: Logger; views: PageRenderer; draining: AbortSignal; telemetryFor(id: string, log: Logger): EidTelemetry },
  availability: Availability,
): Promise<EidRegistry> {
  // Started together: an eID's start is mostly waiting (its simulator, its keys, its upstream).
  const starts = await Promise.allSettled(
    checked.map(async ({ id, factory, settings, acrValues, clientMetadata }) => {
      const { telemetryFor, store, ...context } = shared;
      const log = shared.log.child({ eid: id });
      // Its own namespace of the store: the plugin names keys and channels that no one else reaches.
      const started = await factory.start({ ...context, id, settings, log, store: scopedStore(store, pluginNamespace(id)), telemetry: telemetryFor(id, log) });
      if (started.id !== id) {
        await started.close?.();
        throw new ConfigError(`eids.${id}: the plugin calls itself ${started.id}`);
      }
      if (started.callback && started.callbackTimeLimitMs === undefined) {
        await started.close?.();
        throw new ConfigError(`eids.${id}: the plugin has a callback but no callbackTimeLimitMs`);
      }
      const plugin: EidPlugin = { ...started, acrValues, ...(clientMetadata ? { clientMetadata } : {}) };
      return plugin;
    }),
  );
  const plugins = starts.flatMap((start) => (start.status === 'fulfilled' ? [start.value] : []));
  const failed = starts.find((start) => start.status === 'rejected');
  if (failed) {
    // The eIDs that did start hold servers and timers: stop them, so a failed start leaves nothing running.
    await Promise.allSettled(plugins.map((plugin) => plugin.close?.()));
    throw failed.reason;
  }
  return new EidRegistry(plugins, availability);
}
