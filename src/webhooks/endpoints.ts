import { randomBytes } from 'node:crypto';
import type { AuditEventName } from '../audit/events.js';
import { isProductionConfiguration } from '../config/environment.js';
import type { BrokerConfig } from '../config/schema.js';
import { LOOPBACK_HOSTS } from '../clients/rules.js';
import { ConfigError } from '../config/load.js';
import type { Store } from '../store/store.js';
import { storeKey } from '../store/keys.js';

/** What an endpoint receives when it names no events: how logins ended, and changes to clients. */
export const DEFAULT_WEBHOOK_EVENTS: readonly AuditEventName[] = [
  'authentication.completed',
  'authentication.failed',
  'authentication.cancelled',
  'client.created',
  'client.updated',
  'client.deleted',
  'client.secret_rotated',
];

export type WebhookSource = 'static' | 'dynamic';

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** Key of the HMAC of every delivery; never shown after it was created, never logged. */
  secret: string;
  events: AuditEventName[];
  source: WebhookSource;
}

/** An endpoint as the admin API shows it: never its secret. */
export function webhookView({ id, url, events, source }: WebhookEndpoint) {
  return { id, url, events, source };
}

/**
 * What is wrong with `url` as a webhook endpoint, or undefined. Deliveries carry audit events,
 * so they go over https; plain http only to a loopback host of a configuration that is not
 * production (a receiver under development on this machine).
 */
export function webhookUrlProblem(url: string, issuer: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.username || parsed.password) return 'must not contain a user name or password';
  // Deliveries go where the URL parser takes it, which drops these without a word: the endpoint
  // would be listed as written while its deliveries went to another address.
  if ([...url].some((char) => char <= ' ' || char === '\u007f')) return 'must be written without spaces, line breaks or other control characters';
  if (url.includes('#')) return 'must not contain a fragment: it is never sent';
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(parsed.hostname) && !isProductionConfiguration(issuer)) return undefined;
  return 'must use https (http only on a loopback host, outside production)';
}

/** The problem of each configured endpoint's URL, named by its key: part of the check step, before anything starts. */
export function configuredEndpointProblems(config: BrokerConfig['webhooks'], issuer: string): string[] {
  return config.endpoints.flatMap((endpoint, i) => {
    const problem = webhookUrlProblem(endpoint.url, issuer);
    return problem ? [`webhooks.endpoints[${i}].url: ${problem}`] : [];
  });
}

/** How long the cached list of endpoints is trusted without an announcement of a change. */
const CURRENT_FOR_MS = 10_000;

/** The endpoints held in memory: the read under way, and what it read once it has. */
interface HeldEndpoints {
  endpoints: Promise<WebhookEndpoint[]>;
  readAt: number;
  read?: WebhookEndpoint[];
}

/** A new endpoint secret: 256 random bits. */
const newWebhookSecret = () => randomBytes(32).toString('base64url');

/**
 * The webhook endpoints: those of the configuration (read-only) and those created through the
 * admin API, kept in the store so that every instance delivers to them.
 *
 * Keys: `webhooks:endpoint:<id>` (the endpoint, JSON, secret included) and `webhooks:endpoints`
 * (every id ever stored, for listing; a deleted one has no record).
 */
export class WebhookEndpoints {
  static readonly INDEX = storeKey('webhookEndpoints');
  /** Announces a created or deleted endpoint to every instance's cached list. */
  static readonly CHANGES = storeKey('webhookChanges');
  readonly #store: Store;
  readonly #configured: Map<string, WebhookEndpoint>;
  /** Every endpoint, as audit events are matched against it: read once, again after a change. */
  #current: HeldEndpoints | undefined;
  #listening: Promise<unknown> | undefined;
  /** Whether announcements of changes reach #current (the subscription is in place). */
  #listened = false;

  constructor(store: Store, config: BrokerConfig['webhooks'], issuer: string) {
    this.#store = store;
    const problems = configuredEndpointProblems(config, issuer);
    if (problems.length) throw new ConfigError(problems);
    this.#configured = new Map(
      config.endpoints.map((endpoint) => {
        const events = endpoint.events ?? [...DEFAULT_WEBHOOK_EVENTS];
        return [endpoint.id, { id: endpoint.id, url: endpoint.url, secret: endpoint.secret, events, source: 'static' as const }];
      }),
    );
  }

  #key(id: string): string {
    return storeKey('webhookEndpoint', id);
  }

  async find(id: string): Promise<WebhookEndpoint | undefined> {
    const configured = this.#configured.get(id);
    if (configured) return configured;
    const record = await this.#store.get(this.#key(id));
    return record ? (JSON.parse(record.value) as WebhookEndpoint) : undefined;
  }

  /** Every endpoint, configured ones first, each group by id. */
  async all(): Promise<WebhookEndpoint[]> {
    const stored = (await this.#store.members(WebhookEndpoints.INDEX)).filter((id) => !this.#configured.has(id)).sort();
    const found = await Promise.all(stored.map((id) => this.find(id)));
    return [...[...this.#configured.values()].sort((a, b) => a.id.localeCompare(b.id)), ...found.filter((e): e is WebhookEndpoint => e !== undefined)];
  }

  /**
   * Every endpoint, from memory: audit events (one per token, several per login) must not each
   * read the store. A change on any instance is announced; a lost announcement is made good
   * after CURRENT_FOR_MS.
   */
  async current(): Promise<WebhookEndpoint[]> {
    this.#listening ??= this.#store.subscribe(WebhookEndpoints.CHANGES, () => (this.#current = undefined)).then(
      () => (this.#listened = true),
      () => (this.#listening = undefined),
    );
    await this.#listening;
    if (!this.#current || Date.now() - this.#current.readAt > CURRENT_FOR_MS) {
      const current: HeldEndpoints = { endpoints: this.all(), readAt: Date.now() };
      this.#current = current;
      current.endpoints.then(
        (endpoints) => (current.read = endpoints),
        () => (this.#current = undefined),
      );
    }
    return this.#current.endpoints;
  }

  /**
   * What `current()` would give without waiting — the list it holds, read and still trusted — or
   * undefined when it would wait (to listen, or to read): an audit event that no endpoint wants
   * is then told apart without a promise.
   */
  currentAtOnce(): WebhookEndpoint[] | undefined {
    const current = this.#current;
    return this.#listened && current?.read && Date.now() - current.readAt <= CURRENT_FOR_MS ? current.read : undefined;
  }

  /** Creates an endpoint with a new secret; undefined when the id is taken. */
  async create(input: { id: string; url: string; events: AuditEventName[] }): Promise<WebhookEndpoint | undefined> {
    if (this.#configured.has(input.id)) return undefined;
    const endpoint: WebhookEndpoint = { ...input, secret: newWebhookSecret(), source: 'dynamic' };
    if (!(await this.#store.setIfAbsent(this.#key(input.id), JSON.stringify(endpoint)))) return undefined;
    await this.#store.addToSet(WebhookEndpoints.INDEX, input.id);
    this.#current = undefined;
    await this.#store.publish(WebhookEndpoints.CHANGES, input.id);
    return endpoint;
  }

  async remove(id: string): Promise<void> {
    await this.#store.delete(this.#key(id));
    await this.#store.removeFromSet(WebhookEndpoints.INDEX, id);
    this.#current = undefined;
    await this.#store.publish(WebhookEndpoints.CHANGES, id);
  }
}
