import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import type * as Yaml from 'yaml';
import type { z } from 'zod';
import { knownKeys, plainMessages, UNKNOWN_KEY, unknownName } from './issues.js';
import { configSchema, type BrokerConfig } from './schema.js';

/** A configuration that cannot be used. Its message names the key and the problem. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const ENV_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** Replaces every string that is exactly `${NAME}` with the environment variable NAME. */
function resolveEnvReferences(value: unknown, env: NodeJS.ProcessEnv, path: string): unknown {
  if (typeof value === 'string') {
    const name = ENV_REFERENCE.exec(value)?.[1];
    if (!name) return value;
    const resolved = env[name];
    if (resolved === undefined) throw new ConfigError(`${path}: environment variable ${name} is not set`);
    return resolved;
  }
  if (Array.isArray(value)) return value.map((item, i) => resolveEnvReferences(item, env, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolveEnvReferences(item, env, path ? `${path}.${key}` : key)]),
    );
  }
  return value;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
}

/**
 * Validates `raw` against `schema`; a problem becomes a ConfigError naming the key, below
 * `path` (how plugins name their `eids.<id>` section), and saying in plain words what is wrong.
 * `noun` is what the caller calls a key: the admin API speaks of fields.
 */
export function parseSection<T extends z.ZodType>(schema: T, raw: unknown, path: PropertyKey[] = [], noun = 'key'): z.output<T> {
  const result = schema.safeParse(raw, { error: plainMessages });
  if (result.success) return result.data;
  // A misspelt key is the likeliest cause of the other problems (the key it was meant to be then
  // "is required"): it is named first, with the key it most likely meant.
  const issue = result.error.issues.find(namesUnknownKey) ?? result.error.issues[0];
  if (!issue) throw new ConfigError(`${formatPath(path) || 'configuration'}: not valid`);
  if (issue.code === 'unrecognized_keys') {
    const [unknown = ''] = issue.keys;
    throw new ConfigError(`${formatPath([...path, ...issue.path, unknown])}: ${unknownName(noun, unknown, knownKeys(schema, issue.path))}`);
  }
  const key = formatPath([...path, ...issue.path]) || '(top level)';
  // A bad record key (an eID id) carries the reason in its own nested issue.
  const reason = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  throw new ConfigError(`${key}: ${reason}`);
}

/** An issue about a key the schema does not know: a strict object's, or one a schema adds itself (`UNKNOWN_KEY`). */
function namesUnknownKey(issue: z.core.$ZodIssue): boolean {
  return issue.code === 'unrecognized_keys' || (issue.code === 'custom' && issue.params?.[UNKNOWN_KEY] === true);
}

/**
 * Keys that left the core's sections for an eID's own (`eids.<id>`), by their old dotted path:
 * where they are now. The composition root, which knows the eIDs, names them.
 */
export type MovedKeys = Readonly<Record<string, string>>;

/** The value at a dotted path of raw configuration, if any. */
function valueAt(raw: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), raw);
}

/** A configuration still setting a moved key is refused with the key's new place, not just "unknown key". */
function refuseMovedKeys(raw: unknown, moved: MovedKeys): void {
  const [path, place] = Object.entries(moved).find(([old]) => valueAt(raw, old) !== undefined) ?? [];
  if (path) throw new ConfigError(`${path}: moved to ${place}; set it there instead`);
}

/** Validates raw configuration (already parsed from JSON or YAML). */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, moved: MovedKeys = {}): BrokerConfig {
  refuseMovedKeys(raw, moved);
  return parseSection(configSchema, resolveEnvReferences(raw ?? {}, env, ''));
}

/** The YAML parser, loaded only for a YAML file: most configurations are JSON, and start sooner without it. */
const loadYaml = () => createRequire(import.meta.url)('yaml') as typeof Yaml;

/** Reads and validates the file at `path`: JSON, or YAML for .yaml/.yml. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env, moved: MovedKeys = {}): BrokerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`BROKER_CONFIG: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let raw: unknown;
  try {
    raw = ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? loadYaml().parse(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`BROKER_CONFIG: ${path} is not valid ${extname(path).slice(1) || 'JSON'}: ${(err as Error).message}`);
  }
  return parseConfig(raw, env, moved);
}

