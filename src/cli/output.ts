/** The CLI's text output, for people; --json prints the API's answers instead. */

type Client = Record<string, unknown>;

function format(value: unknown): string {
  if (Array.isArray(value)) return value.map(format).join(', ');
  if (value && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** One client as `field: value` lines, the secret never among them. */
export function printClient(client: Client): string {
  const fields = Object.entries(client).filter(([field, value]) => field !== 'client_secret' && value !== undefined);
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
