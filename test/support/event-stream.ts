import { request, type IncomingMessage } from 'node:http';
import type { TestBrowser } from './browser.js';

export interface StreamEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * A Server-Sent Events reader as EventSource is one, minus the reconnecting: it opens
 * `path` with the browser's cookies and keeps every event. `via` sends the request to one
 * instance directly (a load balancer's pick) while the Host header stays the broker's.
 */
export class EventStreamReader {
  readonly events: StreamEvent[] = [];
  readonly #waiters = new Set<() => void>();
  #response: IncomingMessage | undefined;
  #ended = false;
  readonly opened: Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>;

  constructor(browser: TestBrowser, issuer: string, path: string, via: string = issuer) {
    const url = new URL(path, issuer);
    const target = new URL(path, via);
    this.opened = new Promise((resolve, reject) => {
      const outgoing = request(target, {
        headers: { host: url.host, accept: 'text/event-stream', cookie: browser.cookieHeader(url) },
      });
      outgoing.on('error', (err) => (this.#response ? this.#end() : reject(err)));
      outgoing.on('response', (response) => {
        this.#response = response;
        response.setEncoding('utf8');
        if (response.statusCode !== 200) {
          let body = '';
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => {
            resolve({ status: response.statusCode!, headers: response.headers, body });
            this.#end();
          });
          return;
        }
        resolve({ status: 200, headers: response.headers, body: '' });
        let buffered = '';
        response.on('data', (chunk: string) => {
          buffered += chunk;
          let end: number;
          while ((end = buffered.indexOf('\n\n')) >= 0) {
            this.#keep(buffered.slice(0, end));
            buffered = buffered.slice(end + 2);
          }
        });
        response.on('end', () => this.#end());
        response.on('error', () => this.#end());
      });
      outgoing.end();
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The first event of `type` that satisfies `test`. */
  async next(type: string, test: (event: StreamEvent) => boolean = () => true, timeoutMs = 10_000): Promise<StreamEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((event) => event.event === type && test(event));
      if (found) return found;
      if (this.#ended) throw new Error(`the stream ended without a ${type} event`);
      if (Date.now() > deadline) throw new Error(`no ${type} event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.#waiters.add(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** Resolves once the broker has closed the stream. */
  async closedByBroker(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#ended) {
      if (Date.now() > deadline) throw new Error('the stream stayed open');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    this.#response?.destroy();
    this.#end();
  }

  #keep(block: string): void {
    const event: StreamEvent = { event: 'message', data: '' };
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':') || !line) continue;
      const [field = '', value = ''] = line.split(/: ?(.*)/s);
      if (field === 'event') event.event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') event.id = value;
    }
    if (!data.length && event.event === 'message') return;
    event.data = data.join('\n');
    this.events.push(event);
    this.#wake();
  }

  #end(): void {
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }
}
