import type { z } from 'zod';

/**
 * Validation problems in plain words, for operators reading a configuration error and for
 * callers of the admin API: what the value must be, never the validation library's wording.
 * Messages a schema gives itself (e.g. "must have at least one URI") are kept as they are.
 */

type RawIssue = z.core.$ZodRawIssue;

/**
 * The param that marks a custom issue about a key the schema does not know (a schema that takes
 * keys beyond its own, such as a client's with the fields eIDs declare, finds unknown ones itself):
 * such an issue is named before the others, as a strict object's unrecognized key is.
 */
export const UNKNOWN_KEY = 'unknownKey';

/** How a value of each type is named in "must be …". */
const typeNames: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'an object',
  record: 'an object',
  date: 'a date',
  null: 'null',
};

/** How formats are named in "must be …". */
const formatNames: Record<string, string> = {
  email: 'an email address',
  url: 'a URL',
  uuid: 'a UUID',
  datetime: 'a date and time (ISO 8601)',
  date: 'a date (YYYY-MM-DD)',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  base64: 'base64',
  base64url: 'base64url',
};

/** The words for "items" by what was too long or too short. */
const sizeUnits: Record<string, string> = {
  string: 'characters',
  array: 'items',
  set: 'items',
  file: 'bytes',
};

/** Zod's error map (per parse): a plain message for every issue the schema has no message for. */
export const plainMessages: z.core.$ZodErrorMap = (issue) => plainMessage(issue);

function plainMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      // YAML's .nan: a number by type, so naming its type would say "must be a number, not a number".
      if (Number.isNaN(issue.input)) return `must be ${typeNames[issue.expected] ?? issue.expected}`;
      return `must be ${typeNames[issue.expected] ?? issue.expected}, not ${describeValue(issue.input)}`;
    case 'too_small':
      return sizeMessage('at least', 'more than', issue.origin, Number(issue.minimum), issue.inclusive);
    case 'too_big':
      return sizeMessage('at most', 'less than', issue.origin, Number(issue.maximum), issue.inclusive);
    case 'invalid_value':
      return choiceMessage(issue.values.map((value) => String(value)), issue.input);
    case 'invalid_format':
      return issue.format === 'regex' ? 'is not in the expected form' : `must be ${formatNames[issue.format] ?? `a valid ${issue.format}`}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_union':
      return unionMessage(issue.errors, issue.input);
    case 'invalid_element':
      return 'holds a value that is not valid';
    case 'custom':
      return 'is not valid';
    default:
      return undefined;
  }
}

function sizeMessage(inclusiveWord: string, exclusiveWord: string, origin: string, limit: number, inclusive = true): string {
  const unit = sizeUnits[origin];
  if (unit && limit === 1 && inclusiveWord === 'at least' && inclusive) return 'must not be empty';
  const bound = `${inclusive ? inclusiveWord : exclusiveWord} ${limit}`;
  return unit ? `must have ${bound} ${unit}` : `must be ${bound}`;
}

function choiceMessage(values: string[], input: unknown): string {
  const quoted = values.map((value) => JSON.stringify(value));
  const must = quoted.length === 1 ? `must be ${quoted[0]}` : `must be one of ${quoted.join(', ')}`;
  const near = typeof input === 'string' ? closest(input, values) : undefined;
  return near ? `${must}; did you mean ${JSON.stringify(near)}?` : must;
}

/** "must be true or false or a number" when every form is a type; otherwise the forms are too many to list. */
function unionMessage(branches: readonly (readonly z.core.$ZodIssue[])[], input: unknown): string {
  const types = branches.map(([first]) => (first?.code === 'invalid_type' && first.path.length === 0 ? (typeNames[first.expected] ?? first.expected) : undefined));
  if (types.length === 0 || types.some((type) => type === undefined)) return 'does not have any of the accepted forms';
  return `must be ${[...new Set(types)].join(' or ')}, not ${describeValue(input)}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  // YAML's .inf, or JSON's 1e400: a number by type, so "not a number" would contradict itself.
  if (typeof value === 'number' && !Number.isFinite(value)) return 'an infinite one';
  // A fraction where a whole number belongs: "must be a whole number, not 1.5", never "…, not a number".
  if (typeof value === 'number' && !Number.isInteger(value)) return String(value);
  return typeNames[typeof value] ?? typeof value;
}

/** "unknown key", with the known name `wrong` most likely meant when one is close. */
export function unknownName(noun: string, wrong: string, known: readonly string[]): string {
  const near = closest(wrong, known);
  return `unknown ${noun}${near ? `; did you mean ${near}?` : ''}`;
}

/**
 * The name among `candidates` that `wrong` was most likely meant to be: a small typo, a
 * missing or extra letter, another case. Undefined when none is close.
 */
export function closest(wrong: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(wrong.toLowerCase(), name.toLowerCase());
    if (distance <= allowedTypos(name) && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** A name of three letters or fewer is a guess at any typo ("de" is not "da"); longer ones allow one in four. */
function allowedTypos(name: string): number {
  return name.length <= 3 ? 0 : Math.max(1, Math.floor(name.length / 4));
}

/**
 * The fewest letters to insert, delete or replace, or neighbours to swap, to turn `a` into `b`
 * (optimal string alignment distance).
 */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** What a schema's definition looks like, as far as finding the keys of an object goes. */
interface SchemaDefinition {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
}

/** The keys an object at `path` inside `schema` takes; empty when there is no plain object there. */
export function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.ZodType | undefined = unwrap(schema);
  for (const key of path) {
    const def: SchemaDefinition | undefined = current && (current.def as SchemaDefinition);
    const next: z.ZodType | undefined =
      def?.type === 'object' ? def.shape?.[String(key)] : def?.type === 'array' ? def.element : def?.type === 'record' ? def.valueType : undefined;
    current = next && unwrap(next);
  }
  const def = current?.def as SchemaDefinition | undefined;
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

/** The schema under optional, nullable, default, prefault and pipe wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  const def = schema.def as SchemaDefinition;
  const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  return inner ? unwrap(inner) : schema;
}
