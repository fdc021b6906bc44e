import type { ServerResponse } from 'node:http';

/**
 * A simulator's answer that is not its API's at all — a proxy's page, a cut-off or reshaped body
 * — sent as given, so tests see what the broker does with an upstream answering junk.
 */
export interface RawAnswer {
  status: number;
  body: string;
  contentType: string;
}

/** The fault's `answer` as a RawAnswer, or undefined when it is not one (the caller refuses it in its own words). */
export function rawAnswerOf(value: unknown): RawAnswer | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { status, body, contentType = 'application/json' } = value as Record<string, unknown>;
  const fits = Number.isSafeInteger(status) && (status as number) >= 200 && (status as number) <= 599 && typeof body === 'string' && typeof contentType === 'string';
  return fits ? { status: status as number, body: body as string, contentType: contentType as string } : undefined;
}

export function sendRaw(response: ServerResponse, { status, body, contentType }: RawAnswer): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  response.end(body);
}
