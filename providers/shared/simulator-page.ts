import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from 'node:http';
import type Koa from 'koa';
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

/** Style and script only from the simulator's own files (no inline ones); forms post to itself. */
const PAGE_SECURITY_POLICY = "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * While nothing waits, a simulated app's page asks for itself every two seconds and shows itself
 * again once the answer no longer carries LOOK_AGAIN_MARK, that is once a login waits. It used to
 * reload itself on a two-second timer, which moved the page under the person and their screen
 * reader every time (WCAG 2.2.1); now it changes only when there is something new to show.
 */
const LOOK_AGAIN_PATH = '/app/look-again.js';
export const LOOK_AGAIN_MARK = 'data-nothing-waiting';
/** For the head of a page that carries LOOK_AGAIN_MARK on its <main>. */
export const LOOK_AGAIN_SCRIPT_TAG = `<script src="${LOOK_AGAIN_PATH}" defer></script>`;
const LOOK_AGAIN_SCRIPT = `(function () {
  'use strict';
  function look() {
    fetch(location.pathname, { cache: 'no-store' })
      .then(function (response) { return response.text(); })
      .then(function (page) {
        if (page.indexOf('${LOOK_AGAIN_MARK}') === -1) location.reload();
        else setTimeout(look, 2000);
      })
      .catch(function () { setTimeout(look, 2000); });
  }
  setTimeout(look, 2000);
})();
`;

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

/**
 * The one stylesheet of every simulator's pages (the simulated apps, the upstream eIDs' login
 * pages), in `accent`, the simulated eID's colour. Kept in a file of its own, not inline, so that
 * a page's CSP can forbid inline style. Its buttons are large enough to tap, and every page fits
 * a 320 px screen at twice the usual text size: long words and names break, a fieldset shrinks.
 * The keyboard's focus is a dark ring set off from what it surrounds, as on the broker's pages:
 * the browser's own, a thin dark line hugging a button of the same dark accent, hardly showed.
 * The language the page is in stands out among its links, as on the broker's pages: it was a
 * link like the others, and nothing but a screen reader said which one was the page's.
 * Buttons have a border in their own colour: a forced-colours theme (Windows' contrast themes)
 * takes backgrounds away and draws borders in its own colours, and without one a button there
 * was plain text among the page's words.
 */
export function simulatorStylesheet(accent: string): string {
  return `body { font-family: system-ui, sans-serif; background: #eef1f4; margin: 0; overflow-wrap: anywhere; }
main { max-width: 24rem; margin: 1rem auto; background: #fff; border-radius: 1.5rem; padding: 1rem 1.25rem 1.5rem; }
h1 { font-size: 1.25rem; } h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
.order, section { border-top: 1px solid #d5dbe1; padding: 1rem 0 .5rem; }
.notice { background: #e6f4ea; padding: .5rem .75rem; border-radius: .5rem; }
.problem { background: #fdecea; }
.message { white-space: pre-wrap; background: #f6f8fa; padding: .5rem .75rem; border-radius: .5rem; }
form { margin: .4rem 0; }
label { display: block; margin: .4rem 0; }
fieldset { min-inline-size: 0; margin: .75rem 0; }
select, input:not([type="radio"]) { width: 100%; max-width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }
input[type="radio"] { width: 1.25rem; height: 1.25rem; vertical-align: middle; }
details { margin: .75rem 0; }
a.button { display: block; text-align: center; padding: .7rem; border-radius: .75rem; border: 2px solid ${accent}; background: ${accent}; color: #fff; }
button { display: block; width: 100%; margin: .4rem 0; padding: .7rem; border-radius: .75rem; border: 2px solid ${accent}; background: ${accent}; color: #fff; font-size: 1rem; }
button.secondary { background: #d5dbe1; border-color: #d5dbe1; color: ${accent}; }
nav.languages { text-align: center; padding: .5rem; line-height: 2; }
nav.languages a[aria-current] { color: inherit; font-weight: 600; text-decoration: none; }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, [tabindex]:focus-visible { outline: 3px solid #1b1f24; outline-offset: 2px; }
`;
}

/** Where an upstream eID's simulator serves its stylesheet. */
export const SIMULATOR_STYLESHEET_PATH = '/simulator.css';

/** The upstream simulators' colour: they play several eIDs, none of them in its own colours. */
const UPSTREAM_ACCENT = '#1d4266';

/** The link to it, for an upstream simulator's page's head. */
export const SIMULATOR_STYLESHEET_LINK = `<link rel="stylesheet" href="${SIMULATOR_STYLESHEET_PATH}">`;

/** A step of an upstream simulator's Koa app that serves its stylesheet. */
export function simulatorStylesheetStep(): Koa.Middleware {
  const body = simulatorStylesheet(UPSTREAM_ACCENT);
  return async (ctx, next) => {
    if (ctx.method !== 'GET' || ctx.path !== SIMULATOR_STYLESHEET_PATH) return next();
    ctx.type = 'text/css; charset=utf-8';
    ctx.body = body;
  };
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** A test person as a simulator's page lists them: their label (name, number), then what sets them apart, in the page's language (`note`, a key of its texts). */
export function personShown(person: { label?: string; note?: string }, t: (key: string) => string): string {
  return [person.label, person.note && t(person.note)].filter(Boolean).join(' — ');
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}

/**
 * The way on from a simulator's page that cannot go on (the login over at the simulator, a
 * request it could not take): back to the broker, as a real eID's "back to the service" does,
 * with the login's `state` when the page knows it (`error=access_denied` then, the person's
 * cancel). The broker then shows where its login stands: the picker to choose again, or its
 * way back to the service; an answer with no state, its page for an answer that belongs to no
 * login, with the way back to the service. These pages said to go back to the service, and
 * gave no way there.
 */
export function backToBroker(redirectUri: string, login: { state?: string | undefined; iss?: string }, label: string): string {
  const url = new URL(redirectUri);
  if (login.state) {
    url.searchParams.set('error', 'access_denied');
    url.searchParams.set('error_description', 'the person left the simulator');
    url.searchParams.set('state', login.state);
    if (login.iss) url.searchParams.set('iss', login.iss);
  }
  return `<p><a class="button" href="${escapeHtml(url.href)}">${escapeHtml(label)}</a></p>`;
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
 * `route` replies (and the page script that looks for a new login), and a route that throws with a 500 in JSON. A language picked with `?lang=`
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
    const reply = request.method === 'GET' && url.pathname === LOOK_AGAIN_PATH
      ? { status: 200, contentType: 'text/javascript; charset=utf-8', body: LOOK_AGAIN_SCRIPT }
      : route({ method: request.method ?? 'GET', url, body: Buffer.concat(chunks).toString('utf8'), language });
    send(response, reply, remember);
  }
  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, json(500, { error: String(error) }));
    });
  };
}
