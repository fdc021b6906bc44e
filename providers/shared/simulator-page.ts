import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from 'node:http';
import type { LanguageAsked } from './simulator-language.js';

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

export function send(response: ServerResponse, reply: Reply, headers: OutgoingHttpHeaders = {}): void {
  response.writeHead(reply.status, {
    ...headers,
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
 * The language a person picked with a page's link (`?lang=`), kept for the app's next pages: its
 * own refreshes and the redirects after its buttons carry no `?lang=`.
 */
const LANGUAGE_COOKIE = 'simulator_lang';
const LANGUAGE_CODE = /^[a-z]{2}$/;

/** The `?lang=` of the request, else the one its cookie remembers, and the browser's languages. */
function languageAsked(request: IncomingMessage, url: URL): LanguageAsked {
  const remembered = /(?:^|;\s*)simulator_lang=([a-z]{2})(?:;|$)/.exec(request.headers.cookie ?? '')?.[1];
  return { lang: url.searchParams.get('lang') ?? remembered, acceptLanguage: request.headers['accept-language'] };
}

/**
 * The request listener of a simulated app: reads the body (up to MAX_BODY_BYTES), answers what
 * `route` replies, and a route that throws with a 500 in JSON. A language picked with `?lang=`
 * is remembered in a cookie.
 */
export function simulatorListener(route: (request: { method: string; url: URL; body: string; language: LanguageAsked }) => Reply): RequestListener {
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    }
    const url = new URL(request.url ?? '/', 'http://simulator');
    const language = languageAsked(request, url);
    const picked = url.searchParams.get('lang') ?? '';
    const remember = LANGUAGE_CODE.test(picked) ? { 'set-cookie': `${LANGUAGE_COOKIE}=${picked}; Path=/; HttpOnly; SameSite=Lax` } : {};
    send(response, route({ method: request.method ?? 'GET', url, body: Buffer.concat(chunks).toString('utf8'), language }), remember);
  }
  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, json(500, { error: String(error) }));
    });
  };
}
