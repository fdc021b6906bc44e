import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { requestBytes } from './raw-http.js';

/**
 * HTTP as the load generators speak it: undici's request (lighter than fetch, so the load
 * generator takes less of the CPU it shares with the server) over keep-alive connections.
 */
export function keepAliveAgent(connections: number): Agent {
  return new Agent({ connections, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

export async function send(dispatcher: Dispatcher, url: string, options: RequestOptions = {}): Promise<Answer> {
  const response = await request(url, { dispatcher, method: options.method ?? 'GET', headers: options.headers ?? {}, body: options.body });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

export function header(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * One person's browser: it keeps cookies by name and path, follows redirects within the
 * server it talks to, and stops at any URL outside it (a client's redirect_uri) and hands it
 * back, as test/support/browser.ts does for the tests.
 */
export class Browser {
  readonly #cookies = new Map<string, { name: string; value: string; path: string }>();

  constructor(
    readonly origin: string,
    private readonly dispatcher: Dispatcher,
  ) {}

  /** The Cookie header this browser sends with a request to `path`. */
  cookieHeader(path: string): string {
    const pairs: string[] = [];
    for (const cookie of this.#cookies.values()) if (path.startsWith(cookie.path)) pairs.push(`${cookie.name}=${cookie.value}`);
    return pairs.join('; ');
  }

  /** Keeps the cookies an answer sets (also one that came over a connection of the caller's own, lib/raw-http.ts). */
  keep(answer: Answer): void {
    const setCookie = answer.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const split = pair.indexOf('=');
      const name = pair.slice(0, split);
      const value = pair.slice(split + 1);
      const path = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = attributes.some((a) => a.toLowerCase().startsWith('expires=') && Date.parse(a.slice(8)) < Date.now());
      const key = `${name}\0${path}`;
      if (expired || value === '') this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
  }

  /** One request to the server, no redirect followed. */
  async request(pathOrUrl: string, options: RequestOptions = {}): Promise<Answer> {
    const url = new URL(pathOrUrl, this.origin);
    const cookie = this.cookieHeader(url.pathname);
    const headers = { ...options.headers, ...(cookie ? { cookie } : {}) };
    const answer = await send(this.dispatcher, url.href, { ...options, headers });
    this.keep(answer);
    return answer;
  }

  /** A JSON POST from the server's own pages, as their scripts send it. */
  async postJson(path: string, body: unknown = {}): Promise<Answer> {
    return this.request(path, { method: 'POST', headers: this.#jsonHeaders(), body: JSON.stringify(body) });
  }

  /**
   * The bytes of the request postJson would send now, cookies included, for a page that sends
   * it again and again on a connection of its own (lib/raw-http.ts): built once, not per request.
   */
  jsonPostBytes(path: string, body: unknown = {}): Buffer {
    const url = new URL(path, this.origin);
    const cookie = this.cookieHeader(url.pathname);
    return requestBytes('POST', url.host, `${url.pathname}${url.search}`, { ...this.#jsonHeaders(), ...(cookie ? { cookie } : {}) }, JSON.stringify(body));
  }

  #jsonHeaders(): Record<string, string> {
    return { 'content-type': 'application/json', accept: 'application/json', origin: this.origin };
  }

  /**
   * Follows redirects within the server. Returns the first URL outside it, or the URL and
   * answer of the first response that is not a redirect.
   */
  async follow(pathOrUrl: string): Promise<{ leftTo?: URL; url: URL; answer: Answer }> {
    let url = new URL(pathOrUrl, this.origin);
    for (let hops = 0; hops < 10; hops += 1) {
      const answer = await this.request(url.href);
      const location = header(answer, 'location');
      if (!location || answer.status < 300 || answer.status >= 400) return { url, answer };
      url = new URL(location, url);
      if (url.origin !== this.origin) return { leftTo: url, url, answer };
    }
    throw new Error(`too many redirects from ${pathOrUrl}`);
  }
}

/** Waits until `url` answers 200, polling every `everyMs`; resolves with the time it took. */
export async function waitFor200(url: string, options: { deadlineMs: number; everyMs?: number; gaveUp?: Promise<unknown> }): Promise<number> {
  const started = performance.now();
  const agent = new Agent({ pipelining: 0 });
  let stopped = false;
  void options.gaveUp?.then(() => (stopped = true));
  try {
    while (!stopped) {
      try {
        if ((await send(agent, url)).status === 200) return performance.now() - started;
      } catch {
        // Not listening yet.
      }
      if (performance.now() - started > options.deadlineMs) throw new Error(`${url} did not answer 200 within ${options.deadlineMs} ms`);
      await sleep(options.everyMs ?? 5);
    }
    throw new Error('the process exited');
  } finally {
    await agent.close();
  }
}
