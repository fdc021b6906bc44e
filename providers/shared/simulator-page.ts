import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/**
 * What the simulated apps of the eIDs (BankID's, Freja eID's) answer their person: small HTML
 * pages and forms, JSON for tests, redirects after a button. One shape and one set of headers,
 * so that every simulated page is as locked down as the broker's own.
 */
export interface Reply {
  status: number;
  contentType?: string;
  location?: string;
  body?: string;
}

/** No script at all; style only from the simulator's own stylesheet; forms post to itself. */
const PAGE_SECURITY_POLICY = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function html(body: string, status = 200): Reply {
  return { status, contentType: 'text/html; charset=utf-8', body };
}

export function json(status: number, body: unknown): Reply {
  return { status, contentType: 'application/json', body: JSON.stringify(body) };
}

/** After a form post: 303, so that a reload does not post again. */
export function redirect(location: string): Reply {
  return { status: 303, location };
}

export function send(response: ServerResponse, reply: Reply): void {
  response.writeHead(reply.status, {
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': PAGE_SECURITY_POLICY,
    ...(reply.contentType ? { 'content-type': reply.contentType } : {}),
    ...(reply.location ? { location: reply.location } : {}),
  });
  response.end(reply.body);
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}

/** A form's hidden fields, escaped. */
export function hiddenInputs(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
}

/** Far above any form or control request a simulated app takes; the rest is read and dropped. */
const MAX_BODY_BYTES = 512 * 1024;

/**
 * The request listener of a simulated app: reads the body (up to MAX_BODY_BYTES), answers what
 * `route` replies, and a route that throws with a 500 in JSON.
 */
export function simulatorListener(route: (request: { method: string; url: URL; body: string }) => Reply): RequestListener {
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    }
    const url = new URL(request.url ?? '/', 'http://simulator');
    send(response, route({ method: request.method ?? 'GET', url, body: Buffer.concat(chunks).toString('utf8') }));
  }
  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, json(500, { error: String(error) }));
    });
  };
}
