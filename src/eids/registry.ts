import { ConfigError } from '../config/load.js';
import { isCountryCode } from '../identity/country.js';
import type { Logger } from '../log.js';
import { namespaceConflict, pluginNamespace } from '../store/keys.js';
import { scopedStore } from '../store/scoped-store.js';
import type { Store } from '../store/store.js';
import type { ZodType } from 'zod';
import type { EidPlugin, EidPluginFactory, EidTelemetry, PageRenderer } from './plugin.js';

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
    this.#byAcr = new Map();
    for (const plugin of plugins) {
      // A plugin's country is a value it makes: the identity model only takes ISO 3166-1 codes.
      if (!isCountryCode(plugin.country.code)) throw new ConfigError(`eids.${plugin.id}: country ${plugin.country.code} is not an ISO 3166-1 alpha-2 code`);
      for (const acr of plugin.acrValues) {
        const other = this.#byAcr.get(acr);
        if (other) throw new ConfigError(`eids.${plugin.id}: acr value ${acr} is already served by ${other.id}`);
        this.#byAcr.set(acr, plugin);
      }
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

/**
 * Refuses `eids` sections no plugin can be made of. Checked before the broker connects to its
 * store or starts anything, so that a configuration error is the first thing it prints.
 */
export function checkEidSections(sections: Record<string, unknown>, factories: Record<string, EidPluginFactory>): void {
  // A broker without an eID would start, answer discovery, and refuse every login.
  if (Object.keys(sections).length === 0) {
    throw new ConfigError(`eids: no eID is configured; add a section for at least one (known: ${Object.keys(factories).join(', ') || 'none'})`);
  }
  for (const id of Object.keys(sections)) {
    if (!factories[id]) throw new ConfigError(`eids.${id}: no such eID (known: ${Object.keys(factories).join(', ') || 'none'})`);
    const conflict = namespaceConflict(id);
    if (conflict) throw new ConfigError(`eids.${id}: cannot be a plugin's id: ${conflict}`);
  }
}

/** Creates one plugin per `eids.<id>` section (checked by checkEidSections), from the factories the broker knows. */
export async function createRegistry(
  sections: Record<string, unknown>,
  factories: Record<string, EidPluginFactory>,
  shared: { issuer: string; store: Store; log: Logger; views: PageRenderer; draining: AbortSignal; telemetryFor(id: string, log: Logger): EidTelemetry },
  availability: Availability,
): Promise<EidRegistry> {
  // Started together: an eID's start is mostly waiting (its simulator, its keys, its upstream).
  const starts = await Promise.allSettled(
    Object.entries(sections).map(async ([id, config]) => {
      const factory = factories[id]!;
      const { telemetryFor, store, ...context } = shared;
      const log = shared.log.child({ eid: id });
      // Its own namespace of the store: the plugin names keys and channels that no one else reaches.
      const plugin = await factory({ ...context, id, config, log, store: scopedStore(store, pluginNamespace(id)), telemetry: telemetryFor(id, log) });
      if (plugin.id !== id) {
        await plugin.close?.();
        throw new ConfigError(`eids.${id}: the plugin calls itself ${plugin.id}`);
      }
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
