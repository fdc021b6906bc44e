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
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.ok) return parsed;
    const answer = parsed as { error?: unknown; error_description?: unknown } | undefined;
    if (typeof answer?.error === 'string') {
      const description = typeof answer.error_description === 'string' ? answer.error_description : explain(response.status);
      throw new ApiError(response.status, answer.error, description);
    }
    throw new ApiError(response.status, 'http_error', explain(response.status));
  }

  /** Every client, following the pages, up to `limit`. */
  async listAll(limit: number): Promise<Array<Record<string, unknown>>> {
    const clients: Array<Record<string, unknown>> = [];
    let cursor: string | undefined;
    do {
      const pageSize = Math.min(200, limit - clients.length);
      const query = new URLSearchParams({ limit: String(pageSize), ...(cursor ? { cursor } : {}) });
      const page = (await this.request('GET', `/admin/clients?${query}`)) as { clients: Array<Record<string, unknown>>; next_cursor?: string };
      clients.push(...page.clients);
      cursor = page.next_cursor;
    } while (cursor && clients.length < limit);
    return clients;
  }
}
