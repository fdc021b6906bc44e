/** The CLI's text output, for people; --json prints the API's answers instead. */

type Client = Record<string, unknown>;

/** Control characters (C0, DEL, C1), line and paragraph separators, and the marks that make text show in another order than it is written. */
const UNPRINTABLE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\p{Zl}\p{Zp}]/gu;

/**
 * `text` with what UNPRINTABLE matches written as escapes (`\u001b`). What the CLI prints comes
 * from the broker, and much of it from the clients themselves (a client_uri anyone may register
 * while registration is open, an error's description): printed as sent, it could set the title or
 * the clipboard of the operator's terminal, clear it, or overwrite a line of the list with one of
 * its own.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value of a client's as one line of text. */
export function format(value: unknown): string {
  if (Array.isArray(value)) return value.map(format).join(', ');
  if (value && typeof value === 'object') return printable(JSON.stringify(value));
  return printable(String(value));
}

/** One client as `field: value` lines, the secret never among them. */
export function printClient(client: Client): string {
  const fields = Object.entries(client)
    .filter(([field, value]) => field !== 'client_secret' && value !== undefined)
    .map(([field, value]) => [printable(field), value] as const);
  const width = Math.max(...fields.map(([field]) => field.length));
  return fields.map(([field, value]) => `${field.padEnd(width)}  ${format(value)}\n`).join('');
}

/** Clients as a table. */
export function printList(clients: Client[]): string {
  if (!clients.length) return 'No clients.\n';
  const rows = [
    ['CLIENT_ID', 'TYPE', 'AUTH', 'SOURCE', 'NAME'],
    ...clients.map((c) => [c.client_id, c.application_type, c.token_endpoint_auth_method, c.source, c.display_name ?? c.client_name ?? ''].map((v) => format(v ?? ''))),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => `${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}\n`).join('');
}
