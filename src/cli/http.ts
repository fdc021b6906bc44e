/** The broker answered with an error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    description: string,
  ) {
    super(`${description} (${error}, HTTP ${status})`);
  }
}

/** No answer from the broker at all. */
export class UnreachableError extends Error {}

const TIMEOUT_MS = 15_000;

/** `text` as a JSON object; undefined when it is not JSON, or JSON of another kind (null, a list, a number). */
function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What each status means when the answer is not the admin API's own JSON error. */
function explain(status: number): string {
  if (status === 401) return 'the admin token was refused';
  if (status === 404) return "nothing at this address: is the URL the broker's, and is its admin API on (admin.token)?";
  return 'the broker refused the request';
}

/** The admin API over HTTP, with the admin token. */
export class AdminClient {
  constructor(
    readonly base: URL,
    readonly token: string,
  ) {}

  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base : `${this.base.href}/`);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: 'error',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (cause?.code ?? cause?.message ?? (err as Error).message);
      throw new UnreachableError(`cannot reach the broker at ${this.base.origin}: ${reason}`);
    }
    const text = await response.text();
    const parsed = text ? jsonObject(text) : undefined;
    // A login page of a proxy, a 502 of a load balancer, another site: never read as done.
    if (text && parsed === undefined) {
      throw this.notTheBroker(`did not answer as the broker's admin API (HTTP ${response.status}, ${response.headers.get('content-type') ?? 'no content type'})`);
    }
    if (response.ok) return parsed;
    const answer = parsed as { error?: unknown; error_description?: unknown } | undefined;
    if (typeof answer?.error === 'string') {
      const description = typeof answer.error_description === 'string' ? answer.error_description : explain(response.status);
      throw new ApiError(response.status, answer.error, description);
    }
    throw new ApiError(response.status, 'http_error', explain(response.status));
  }

  /** A request whose answer is one client (shown, added, updated, its secret rotated). */
  async client(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const answer = (await this.request(method, path, body)) as Record<string, unknown> | undefined;
    if (typeof answer?.client_id !== 'string') throw this.notTheBroker('answered without a client');
    return answer;
  }

  /** What is said of an answer that is not the admin API's JSON. */
  notTheBroker(what: string): UnreachableError {
    return new UnreachableError(`the server at ${this.base.origin} ${what}: check that --url or BROKER_ADMIN_URL is the broker's issuer URL`);
  }

  /** Every client, following the pages, up to `limit`. */
  async listAll(limit: number): Promise<Array<Record<string, unknown>>> {
    const clients: Array<Record<string, unknown>> = [];
    let cursor: string | undefined;
    do {
      const pageSize = Math.min(200, limit - clients.length);
      const query = new URLSearchParams({ limit: String(pageSize), ...(cursor ? { cursor } : {}) });
      const page = (await this.request('GET', `/admin/clients?${query}`)) as { clients?: unknown; next_cursor?: string } | undefined;
      if (!Array.isArray(page?.clients)) throw this.notTheBroker('answered the list without its clients');
      clients.push(...(page.clients as Array<Record<string, unknown>>));
      cursor = page.next_cursor;
    } while (cursor && clients.length < limit);
    return clients;
  }
}
