/**
 * A browser as far as the broker can tell: it keeps cookies (by name and path) and follows
 * redirects, but stops at any URL outside the broker, such as a client's redirect_uri, and
 * hands it back. Enough to drive a login over real HTTP without a real browser.
 */
export class TestBrowser {
  readonly #origin: string;
  /** Other sites whose redirects the browser follows too (an upstream eID's pages). */
  readonly alsoFollows = new Set<string>();
  readonly #cookies = new Map<string, { value: string; path: string; expiresAt: number }>();
  /** Sent with every request, as a browser sends its Accept-Language. */
  readonly headers = new Headers();
  /** The hidden fields of each form seen on a page, by the path it posts to: a browser submits them with the form. */
  readonly #hiddenFields = new Map<string, Record<string, string>>();

  constructor(origin: string) {
    this.#origin = origin;
  }

  /** The Cookie header this browser sends to `url`: a cookie past its expiry is not sent, as a browser sends none. */
  cookieHeader(url: URL): string {
    const now = Date.now();
    return [...this.#cookies]
      .filter(([, cookie]) => url.pathname.startsWith(cookie.path) && cookie.expiresAt > now)
      .map(([key, cookie]) => `${key.split('\0')[0]}=${cookie.value}`)
      .join('; ');
  }

  #keep(response: Response) {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
      const [name = '', value = ''] = pair.split(/=(.*)/s);
      const path = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expires = attributes.find((a) => a.toLowerCase().startsWith('expires='));
      const expiresAt = expires ? Date.parse(expires.slice(8)) : Infinity;
      const key = `${name}\0${path}`;
      if (expiresAt < Date.now() || value === '') this.#cookies.delete(key);
      else this.#cookies.set(key, { value, path, expiresAt });
    }
  }

  async #keepForms(response: Response) {
    if (!response.headers.get('content-type')?.includes('text/html')) return;
    const html = await response.clone().text();
    for (const [, action = '', inner = ''] of html.matchAll(/<form\b[^>]*\baction="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
      const hidden = [...inner.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)];
      this.#hiddenFields.set(new URL(action, response.url).pathname, Object.fromEntries(hidden.map(([, name = '', value = '']) => [name, value])));
    }
  }

  /** One request, no redirects followed. */
  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url, this.#origin);
    const headers = new Headers(this.headers);
    new Headers(init.headers).forEach((value, name) => headers.set(name, value));
    const cookie = this.cookieHeader(target);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    this.#keep(response);
    await this.#keepForms(response);
    return response;
  }

  /**
   * Follows redirects within the broker. Returns the first URL outside it (where the client
   * would take over), or the last response when a page answers instead of redirecting.
   */
  async follow(url: string | URL, init: RequestInit = {}): Promise<{ leftTo?: URL; response: Response }> {
    let response = await this.request(url, init);
    for (let hops = 0; hops < 20; hops += 1) {
      const location = response.headers.get('location');
      if (!location || response.status < 300 || response.status >= 400) return { response };
      const next = new URL(location, response.url || this.#origin);
      if (next.origin !== this.#origin && !this.alsoFollows.has(next.origin)) return { leftTo: next, response };
      response = await this.request(next);
    }
    throw new Error('too many redirects');
  }

  /** Submits a form the way a browser does, from the page at `url`'s own origin, with the form's hidden fields. */
  async submit(url: string | URL, fields: Record<string, string>) {
    const target = new URL(url, this.#origin);
    return this.follow(target, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html,*/*;q=0.8', origin: target.origin },
      body: new URLSearchParams({ ...this.#hiddenFields.get(target.pathname), ...fields }).toString(),
    });
  }
  /** On the broker's logout page (its HTML: RP-initiated logout), the person confirms: yes, log me out. */
  confirmLogout(page: string) {
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)?.[1];
    if (!xsrf) throw new Error(`not the broker's logout page: ${page.slice(0, 200)}`);
    return this.submit('/session/end/confirm', { xsrf, logout: 'yes' });
  }

  /**
   * An RP-initiated logout in this browser while it has no login at the broker: oidc-provider
   * asks nothing, and its page posts the confirmation by script, as this does.
   */
  async logOutUnasked(query: Record<string, string>) {
    const { response } = await this.follow(`/session/end?${new URLSearchParams(query)}`, { headers: { accept: 'text/html' } });
    return this.confirmLogout(await response.text());
  }

}
