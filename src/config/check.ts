import type { JWK } from 'jose';
import { staticClientProblem } from '../clients/static.js';
import { createClientRules, type ClientRules } from '../clients/rules.js';
import type { EidPluginFactory } from '../eids/plugin.js';
import { checkEids, type CheckedEid } from '../eids/registry.js';
import { readSigningKeys } from '../oidc/keys.js';
import { configuredEndpointProblems } from '../webhooks/endpoints.js';
import { clientMetadata } from '../oidc/provider.js';
import { checkCoreConfig, ConfigError, type CoreCheck, type MovedKeys } from './load.js';
import { clientSchema, eidIdSchema, type BrokerConfig, type ClientConfig } from './schema.js';

/**
 * The check step: everything the configuration names, checked before anything starts — the
 * broker's own sections, the `jwks` file, the webhook endpoints' URLs, every eID's section (each eID's own check, which
 * reads the files its settings name) and the static clients, against the rules every client
 * keeps and what the configured eIDs declare. Every problem is collected, so that one run names
 * them all; then nothing has printed, listened or started.
 */

/** A configuration that passed the check step: what createBroker starts. */
export interface CheckedConfig {
  config: BrokerConfig;
  /** The configured eIDs, each with its checked settings, in the order of their sections. */
  eids: CheckedEid[];
  /** The private signing keys of the `jwks` file, when it is set. */
  signingKeys?: JWK[];
}

export interface CheckOptions {
  env?: NodeJS.ProcessEnv;
  /** Keys that moved to an eID's section: a configuration still setting one is told where. */
  moved?: MovedKeys;
}

/** Checks raw configuration (parsed from JSON or YAML) with the eIDs the broker can run; a ConfigError names every problem. */
export async function checkConfig(raw: unknown, factories: Readonly<Record<string, EidPluginFactory>>, options: CheckOptions = {}): Promise<CheckedConfig> {
  const core = checkCoreConfig(raw, options.env ?? process.env, options.moved ?? {});
  // Checked whether the broker's own sections passed or not, from what of them can be read.
  const values = core.config ?? objectOrEmpty(core.raw);
  const issuer = issuerOf(values);
  const eids = await checkEids(eidSections(core), factories, issuer);
  const keys = signingKeysOf(values.jwks);
  const clients = clientProblems(staticClients(core), issuer, eids.eids, eids.problems.length === 0);
  const webhooks = core.config ? configuredEndpointProblems(core.config.webhooks, issuer) : [];
  const problems = [...core.problems, ...keys.problems, ...webhooks, ...eids.problems, ...clients];
  if (!core.config || problems.length) throw new ConfigError(problems);
  return { config: core.config, eids: eids.eids, ...(keys.signingKeys ? { signingKeys: keys.signingKeys } : {}) };
}

/** The issuer the broker names itself by: the configured one, else http://localhost:<port>. */
export function issuerOf(config: { issuer?: unknown; port?: unknown }): string {
  if (typeof config.issuer === 'string' && URL.canParse(config.issuer)) return config.issuer;
  return typeof config.port === 'number' ? `http://localhost:${config.port}` : 'http://localhost';
}

function objectOrEmpty(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The `eids` sections, by id: those of a valid id when the broker's own sections did not pass (the others are named already). */
function eidSections(core: CoreCheck): Record<string, unknown> {
  if (core.config) return core.config.eids;
  const sections = objectOrEmpty(objectOrEmpty(core.raw).eids);
  return Object.fromEntries(Object.entries(sections).filter(([id]) => eidIdSchema.safeParse(id).success));
}

/** The static clients by their place in `clients`: those that fit the schema when the broker's own sections did not pass (the others are named already). */
function staticClients(core: CoreCheck): Array<[number, ClientConfig]> {
  if (core.config) return [...core.config.clients.entries()];
  const listed = objectOrEmpty(core.raw).clients;
  if (!Array.isArray(listed)) return [];
  return listed.flatMap((client: unknown, i): Array<[number, ClientConfig]> => {
    const parsed = clientSchema.safeParse(client);
    return parsed.success ? [[i, parsed.data]] : [];
  });
}

function signingKeysOf(jwks: unknown): { signingKeys?: JWK[]; problems: string[] } {
  if (typeof jwks !== 'string') return { problems: [] };
  try {
    return { signingKeys: readSigningKeys(jwks), problems: [] };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: [...err.problems] };
    throw err;
  }
}

/**
 * The first problem of each static client, named by its key (`clients[0].redirect_uris[0]`),
 * against what the checked eIDs declare: all of it with `everyEid` (every section passed), else
 * only what no eID has a say in (staticClientProblem).
 */
function clientProblems(clients: ReadonlyArray<[number, ClientConfig]>, issuer: string, eids: readonly CheckedEid[], everyEid: boolean): string[] {
  let rules: ClientRules;
  try {
    rules = createClientRules({ issuer, eids });
  } catch (err) {
    // Fields two eIDs both declare, or that are the core's own: problems of the eIDs' sections.
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return clients.flatMap(([i, client]) => {
    const problem = staticClientProblem(client, clientMetadata(client) as Record<string, unknown>, rules, everyEid);
    return problem ? [`clients[${i}].${problem}`] : [];
  });
}
