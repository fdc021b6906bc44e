import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import type * as Yaml from 'yaml';
import type { z } from 'zod';
import { knownKeys, plainMessages, UNKNOWN_KEY, unknownName } from './issues.js';
import { configSchema, type BrokerConfig } from './schema.js';

/**
 * A configuration that cannot be used: every problem found, each naming its key and saying what
 * is wrong (`eids.se-bankid.qr_size: must be at most 480`), one a line in the message.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('\n'));
    this.name = 'ConfigError';
    this.problems = list;
  }
}

/** One problem in a section of the configuration: the path of its key below the section, and what is wrong. */
export interface ConfigIssue {
  path: ReadonlyArray<string | number>;
  message: string;
}

/** "key: problem", the key named in full below `section` (e.g. `eids.se-bankid`). */
export function describeIssue(issue: ConfigIssue, section: readonly PropertyKey[] = []): string {
  return `${formatPath([...section, ...issue.path]) || 'configuration'}: ${issue.message}`;
}

const ENV_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * Replaces every string that is exactly `${NAME}` with the environment variable NAME; a variable
 * that is not set is added to `issues` (and its string left as it is).
 */
function resolveEnvReferences(value: unknown, env: NodeJS.ProcessEnv, path: Array<string | number>, issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') {
    const name = ENV_REFERENCE.exec(value)?.[1];
    if (!name) return value;
    const resolved = env[name];
    if (resolved === undefined) issues.push({ path, message: `environment variable ${name} is not set` });
    return resolved ?? value;
  }
  if (Array.isArray(value)) return value.map((item, i) => resolveEnvReferences(item, env, [...path, i], issues));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveEnvReferences(item, env, [...path, key], issues)]));
  }
  return value;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
}

/** What checking a section finds: its value, with the schema's defaults, or every problem in it. */
export type SectionCheck<T> = { data: T } | { issues: ConfigIssue[] };

/**
 * Checks `raw` against `schema`: its value, or every problem, each with the path of its key and
 * what is wrong in plain words. A misspelt key is the likeliest cause of the other problems (the
 * key it was meant to be then "is required"): such keys come first, each with the key it most
 * likely meant. `noun` is what the caller calls a key: the admin API speaks of fields.
 */
export function checkSection<T extends z.ZodType>(schema: T, raw: unknown, noun = 'key'): SectionCheck<z.output<T>> {
  const result = schema.safeParse(raw, { error: plainMessages });
  if (result.success) return { data: result.data };
  const issues = [...result.error.issues.filter(namesUnknownKey), ...result.error.issues.filter((issue) => !namesUnknownKey(issue))];
  return { issues: issues.length ? issues.flatMap((issue) => plainIssues(schema, issue, noun)) : [{ path: [], message: 'not valid' }] };
}

/** One zod issue as the problems it names: a strict object's unknown keys one by one. */
function plainIssues(schema: z.ZodType, issue: z.core.$ZodIssue, noun: string): ConfigIssue[] {
  const path = issue.path.map(plainKey);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((unknown) => ({ path: [...path, unknown], message: unknownName(noun, unknown, knownKeys(schema, issue.path)) }));
  }
  // A bad record key (an eID id) carries the reason in its own nested issue.
  return [{ path, message: issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message }];
}

const plainKey = (key: PropertyKey): string | number => (typeof key === 'number' ? key : String(key));

/**
 * Validates `raw` against `schema`; its first problem (see checkSection) becomes a ConfigError
 * naming the key, below `path` (e.g. a client's field), and saying in plain words what is wrong.
 */
export function parseSection<T extends z.ZodType>(schema: T, raw: unknown, path: PropertyKey[] = [], noun = 'key'): z.output<T> {
  const checked = checkSection(schema, raw, noun);
  if ('data' in checked) return checked.data;
  throw new ConfigError(describeIssue(checked.issues[0]!, path));
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
function movedKeyIssues(raw: unknown, moved: MovedKeys): ConfigIssue[] {
  return Object.entries(moved)
    .filter(([old]) => valueAt(raw, old) !== undefined)
    .map(([old, place]) => ({ path: old.split('.'), message: `moved to ${place}; set it there instead` }));
}

/**
 * The broker's own sections checked: the configuration, or every problem with them. `raw` is the
 * configuration with every `${NAME}` replaced, for the checks of the eIDs and clients that follow,
 * which run whether the broker's own sections passed or not.
 */
export interface CoreCheck {
  config?: BrokerConfig;
  raw: unknown;
  problems: string[];
}

/** Checks raw configuration (already parsed from JSON or YAML) against the broker's own schema, finding every problem. */
export function checkCoreConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, moved: MovedKeys = {}): CoreCheck {
  const found = movedKeyIssues(raw, moved);
  const resolved = resolveEnvReferences(raw ?? {}, env, [], found);
  const checked = checkSection(configSchema, resolved);
  // A key already named (moved, or its variable not set) is not named again for what follows from that.
  const named = new Set(found.map((issue) => formatPath(issue.path)));
  const more = 'issues' in checked ? checked.issues.filter((issue) => !named.has(formatPath(issue.path))) : [];
  const problems = [...found, ...more].map((issue) => describeIssue(issue));
  return 'data' in checked && !problems.length ? { config: checked.data, raw: resolved, problems } : { raw: resolved, problems };
}

/** Validates raw configuration (already parsed from JSON or YAML): a ConfigError names every problem. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, moved: MovedKeys = {}): BrokerConfig {
  const { config, problems } = checkCoreConfig(raw, env, moved);
  if (!config) throw new ConfigError(problems);
  return config;
}

/** The YAML parser, loaded only for a YAML file: most configurations are JSON, and start sooner without it. */
const loadYaml = () => createRequire(import.meta.url)('yaml') as typeof Yaml;

/** Reads and validates the file at `path`: JSON, or YAML for .yaml/.yml. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env, moved: MovedKeys = {}): BrokerConfig {
  return parseConfig(readConfigFile(path), env, moved);
}

/** The file at `path`, parsed: JSON, or YAML for .yaml/.yml; not yet checked. */
export function readConfigFile(path: string): unknown {
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
  return raw;
}

