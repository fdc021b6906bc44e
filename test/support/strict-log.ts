/**
 * A log line read as a strict log shipper reads it: one line of valid UTF-8 JSON, one object,
 * no key twice in any object (JSON.parse keeps the last silently; strict parsers refuse the
 * line), with `level`, an ISO 8601 `time` and `msg`.
 */

/** An ISO 8601 instant in UTC, as pino's isoTime writes it. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Half of a UTF-16 surrogate pair without its other half: no UTF-8 encodes it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The problems of one line (none: an empty list), and the line parsed when it is JSON. */
export interface LineCheck {
  problems: string[];
  fields?: Record<string, unknown>;
}

/** Reads JSON text value by value, refusing what JSON.parse lets through: a key twice in one object. */
class StrictReader {
  #at = 0;
  readonly problems: string[] = [];

  constructor(readonly text: string) {}

  document(): void {
    this.#space();
    if (this.text[this.#at] !== '{') throw new SyntaxError('the line is not one JSON object');
    this.#value('');
    this.#space();
    if (this.#at !== this.text.length) throw new SyntaxError(`text after the object at ${this.#at}`);
  }

  #space(): void {
    while (/[ \t\r\n]/.test(this.text[this.#at] ?? '')) this.#at += 1;
  }

  #value(path: string): void {
    this.#space();
    const char = this.text[this.#at];
    if (char === '{') return this.#object(path);
    if (char === '[') return this.#array(path);
    if (char === '"') return void this.#string();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(this.text.slice(this.#at));
    if (!literal) throw new SyntaxError(`no JSON value at ${this.#at}`);
    this.#at += literal[0].length;
  }

  #object(path: string): void {
    this.#at += 1;
    const keys = new Set<string>();
    this.#space();
    if (this.text[this.#at] === '}') return void (this.#at += 1);
    for (;;) {
      this.#space();
      const key = this.#string();
      if (keys.has(key)) this.problems.push(`the key "${path}${key}" twice`);
      keys.add(key);
      this.#space();
      this.#expect(':');
      this.#value(`${path}${key}.`);
      this.#space();
      if (this.text[this.#at] === '}') return void (this.#at += 1);
      this.#expect(',');
    }
  }

  #array(path: string): void {
    this.#at += 1;
    this.#space();
    if (this.text[this.#at] === ']') return void (this.#at += 1);
    for (let index = 0; ; index += 1) {
      this.#value(`${path}${index}.`);
      this.#space();
      if (this.text[this.#at] === ']') return void (this.#at += 1);
      this.#expect(',');
    }
  }

  #string(): string {
    const start = this.#at;
    this.#expect('"');
    while (this.text[this.#at] !== '"') {
      const char = this.text[this.#at];
      if (char === undefined || char < ' ') throw new SyntaxError(`an unfinished string, or a raw control character, at ${this.#at}`);
      this.#at += char === '\\' ? 2 : 1;
    }
    this.#at += 1;
    // JSON.parse checks the escapes.
    return JSON.parse(this.text.slice(start, this.#at)) as string;
  }

  #expect(char: string): void {
    if (this.text[this.#at] !== char) throw new SyntaxError(`"${char}" expected at ${this.#at}`);
    this.#at += 1;
  }
}

/** Checks one line (without its newline) of the broker's log. */
export function checkLogLine(line: string): LineCheck {
  const problems: string[] = [];
  if (line.includes('\n') || line.includes('\r')) problems.push('more than one line');
  if (LONE_SURROGATE.test(line)) problems.push('not valid UTF-8 (a lone surrogate)');
  const reader = new StrictReader(line);
  try {
    reader.document();
  } catch (err) {
    return { problems: [...problems, `not JSON: ${(err as Error).message}`] };
  }
  problems.push(...reader.problems);
  const fields = JSON.parse(line) as Record<string, unknown>;
  if (typeof fields.level !== 'number' && typeof fields.level !== 'string') problems.push('no level');
  if (typeof fields.time !== 'string' || !ISO_TIME.test(fields.time)) problems.push(`time is not ISO 8601: ${JSON.stringify(fields.time)}`);
  if (typeof fields.msg !== 'string' || fields.msg === '') problems.push('no msg');
  if ('err' in fields && !isErrorObject(fields.err)) problems.push('err is not an error as pino writes one ({type, message, stack}); words go in reason');
  return { problems, fields };
}

const isErrorObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' && typeof (value as { message?: unknown }).message === 'string';

const jsonType = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/**
 * The top-level fields that have values of more than one JSON type across `lines`, with a line
 * of each type. A log store that maps fields (Elasticsearch, Loki's JSON stages) takes a field's
 * type from its first value and refuses, or drops, the lines whose value has another.
 */
export function mixedFieldTypes(lines: ReadonlyArray<Record<string, unknown>>): Record<string, Record<string, string>> {
  const seen = new Map<string, Map<string, string>>();
  for (const line of lines) {
    for (const [name, value] of Object.entries(line)) {
      const types = seen.get(name) ?? new Map<string, string>();
      if (!types.has(jsonType(value))) types.set(jsonType(value), String(line.msg));
      seen.set(name, types);
    }
  }
  return Object.fromEntries([...seen].filter(([, types]) => types.size > 1).map(([name, types]) => [name, Object.fromEntries(types)]));
}

/** The lines of a log's text (bytes as written), each checked; the bytes must be UTF-8 and end with a newline. */
export function checkLogText(bytes: Buffer | string): Array<LineCheck & { line: string }> {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  if (text !== '' && !text.endsWith('\n')) throw new Error('the log does not end with a newline');
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => ({ line, ...checkLogLine(line) }));
}
