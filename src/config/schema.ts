import { z } from 'zod';
import { auditEventNames } from '../audit/events.js';
import { isTaggedField, unkeptLanguage } from '../clients/localized.js';
import { EID_FIELD_NAME } from '../clients/names.js';
import { reusePortSupported } from '../http/reuse-port.js';
import { isLocalHost } from './environment.js';
import { closest, UNKNOWN_KEY, unknownName } from './issues.js';
import { KEY_FAMILIES } from '../store/keys.js';

/**
 * The broker's configuration, as read from the file named by BROKER_CONFIG (JSON or YAML).
 * Every key is documented here, where it is defined; README's configuration reference lists
 * the same keys. Any string value may be written as `${NAME}` to take it from the environment
 * variable NAME, which is how secrets stay out of the file.
 */

const seconds = z.number().int().positive();

const hostPort = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict();

const redis = z
  .object({
    /** redis://[:password@]host:port/db, or rediss:// for TLS. */
    url: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
    /** Sentinel nodes; `sentinel_name` names the monitored master. */
    sentinels: z.array(hostPort).min(1).optional(),
    sentinel_name: z.string().min(1).optional(),
    /** Redis Cluster seed nodes. */
    cluster: z.array(hostPort).min(1).optional(),
    /** The password of the Redis servers (Sentinel's master and replicas, Cluster nodes), unless `url` has one. */
    password: z.string().optional(),
    /** The password of the Sentinels themselves, when they have `requirepass` (often another one). */
    sentinel_password: z.string().optional(),
    /** Prefixes every key, so several brokers (or tests) can share one Redis. */
    key_prefix: z.string().default('neb:'),
    /** A command that takes longer fails, and the request gets 503 rather than hanging. */
    command_timeout_ms: z.number().int().positive().default(500),
  })
  .strict()
  .refine((r) => [r.url, r.sentinels, r.cluster].filter(Boolean).length === 1, {
    message: 'set exactly one of url, sentinels or cluster',
  })
  .refine((r) => !r.sentinels || r.sentinel_name, {
    message: 'sentinel_name is required with sentinels',
    path: ['sentinel_name'],
  });

/**
 * RFC 6749 Appendix A: a client_id and a client_secret are printable ASCII (VSCHAR). oidc-provider
 * refuses any other character, but only once the configuration has passed, as an "invalid value".
 */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const NOT_PRINTABLE_ASCII = 'must be printable ASCII (RFC 6749): letters A-Z and a-z, digits, space and punctuation, no other letters such as å, ä, ö or ø';

export const clientSchema = z
  .object({
    client_id: z.string().min(1).max(200).regex(PRINTABLE_ASCII, NOT_PRINTABLE_ASCII),
    /** Absent for public clients (SPAs, mobile apps), which authenticate with PKCE alone. */
    client_secret: z.string().min(32, 'must be at least 32 characters').regex(PRINTABLE_ASCII, NOT_PRINTABLE_ASCII).optional(),
    redirect_uris: z.array(z.string()).min(1),
    post_logout_redirect_uris: z.array(z.string()).default([]),
    /** Defaults to client_secret_basic with a secret and none without one. */
    token_endpoint_auth_method: z
      .enum(['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'])
      .optional(),
    application_type: z.enum(['web', 'native']).default('web'),
    /** The eIDs this client may use, by id; absent means every configured eID. */
    allowed_eids: z.array(z.string()).optional(),
    /** Shown to the person on the broker's pages, in every language. */
    display_name: z.string().max(100).optional(),
    /** OIDC's name of the client, shown when display_name is not set; `client_name#sv` and the like give it per page language. */
    client_name: z.string().max(100).optional(),
    /** The client's home page: where a person whose login is over (Back after it finished) is offered to go. */
    client_uri: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** The client's logo (https only). */
    logo_uri: z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional(),
    /** The client's privacy policy and terms of service, linked from the picker. */
    policy_uri: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    tos_uri: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** The page language when the request has no ui_locales: sv, en, nb, fi or da. */
    default_ui_locales: z.array(z.enum(['sv', 'en', 'nb', 'fi', 'da'])).min(1).optional(),
    /** The acr values this client may use; absent means every acr value of its allowed eIDs. */
    allowed_acr_values: z.array(z.string()).min(1).optional(),
    /** false: an eID that fails or is cancelled ends the login at the client instead of returning to the picker. */
    return_to_picker: z.boolean().optional(),
    /** `pairwise` gives this client its own sub for each person. */
    subject_type: z.enum(['public', 'pairwise']).default('public'),
    /** Signing algorithm of ID tokens for this client. */
    id_token_signed_response_alg: z.enum(['ES256', 'RS256']).default('ES256'),
    /** Set: userinfo answers this client with a JWT signed with it, rather than plain JSON. */
    userinfo_signed_response_alg: z.enum(['ES256', 'RS256']).optional(),
    /** Whether the client may use refresh tokens (scope offline_access). */
    refresh_tokens: z.boolean().default(true),
    /** A refresh token with every code, without offline_access and prompt=consent: this registration is the consent. */
    refresh_tokens_without_consent: z.boolean().optional(),
    /** For private_key_jwt. */
    jwks_uri: z.url().optional(),
    /** Back-Channel Logout 1.0: where the broker POSTs a logout token when the person logs out. */
    backchannel_logout_uri: z.string().optional(),
    /** Whether the logout token (and so the ID token) must carry `sid`. */
    backchannel_logout_session_required: z.boolean().optional(),
    /** Front-Channel Logout 1.0: the page the broker's logout page loads in an iframe. */
    frontchannel_logout_uri: z.string().optional(),
    /** Whether that page gets `iss` and `sid` (and the ID token carries `sid`). */
    frontchannel_logout_session_required: z.boolean().optional(),
    /** A resource server: it may introspect tokens issued to any client, not only its own. */
    resource_server: z.boolean().optional(),
    /**
     * RFC 9396: the authorization_details types this client may send (sign, payment,
     * login_message with Swedish BankID); absent, it may send none. README, Signing and payments.
     */
    authorization_details_types: z.array(z.string().min(1)).min(1).optional(),
    /**
     * OpenID Connect CIBA: set, the client may start logins and signatures on a person's phone
     * from its backend (grant type urn:openid:params:grant-type:ciba). `poll`, the only mode: it
     * polls the token endpoint for the result.
     */
    backchannel_token_delivery_mode: z.enum(['poll']).optional(),
    /** RFC 9126 §6: true, every authorization request must come through the PAR endpoint (request_uri). */
    require_pushed_authorization_requests: z.boolean().optional(),
  })
  // Client metadata an eID declares (e.g. bankid_requirement) is named with words joined by `_`;
  // such a key is checked once the eIDs are known (src/clients/static.ts), as is a field given in
  // a page language (client_name#sv) against the rules of every client. Any other is refused here,
  // and so is a slip for a key of the core's the client lacks (redirect_uri for redirect_uris).
  .catchall(z.unknown())
  // Also when other keys failed: a misspelt key is what makes its right spelling "required".
  .superRefine(
    (client, ctx) => {
      const coreKeys = Object.keys(clientSchema.shape);
      const missing = coreKeys.filter((key) => (client as Record<string, unknown>)[key] === undefined);
      for (const key of Object.keys(client)) {
        if (key in clientSchema.shape || isTaggedField(key) || (EID_FIELD_NAME.test(key) && !closest(key, missing))) continue;
        ctx.addIssue({ code: 'custom', path: [key], message: unkeptLanguage(key) ?? unknownName('key', key, coreKeys), params: { [UNKNOWN_KEY]: true } });
      }
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
  )
  .refine((c) => (c.token_endpoint_auth_method === 'none' ? !c.client_secret : true), {
    message: 'a client with token_endpoint_auth_method none must not have a client_secret',
    path: ['client_secret'],
  })
  .refine((c) => !c.token_endpoint_auth_method?.startsWith('client_secret') || c.client_secret, {
    message: 'is required with a client_secret_* token_endpoint_auth_method',
    path: ['client_secret'],
  });

/**
 * The issuer identifier (OpenID Connect Discovery §3): https, with no query, fragment or user
 * name, since every URL the broker answers is built on it and tokens name it as `iss`. Plain http
 * only on this machine once NODE_ENV is production.
 */
const issuerSchema = z
  .url({ protocol: /^https?$/, error: 'must be an https URL (http only on this machine)' })
  .refine((u) => !u.endsWith('/'), 'must not end with /')
  // Refinements run on a string the URL check refused too: URL.parse gives null there, never a throw.
  .refine((u) => !/[?#]/.test(u) && !URL.parse(u)?.username && !URL.parse(u)?.password, 'must have no query (?), fragment (#) or user name (@)')
  // The broker answers at the root of its host: under a path, discovery would not be where
  // relying parties look for it (<issuer>/.well-known/openid-configuration), nor its endpoints.
  .refine((u) => (URL.parse(u)?.pathname ?? '/') === '/', 'must have no path: the broker answers at the root of a host of its own')
  .refine(
    (u) => process.env.NODE_ENV !== 'production' || u.startsWith('https:') || isLocalHost(URL.parse(u)?.hostname ?? ''),
    'must be https when NODE_ENV is production (http only on this machine)',
  );

/** An eID's id, the name of its section (`eids.<id>`). */
export const eidIdSchema = z.string().regex(/^[a-z0-9-]+$/, 'eID ids are lowercase letters, digits and -');

/** An id an operator gives a webhook endpoint (also a metrics label). */
export const webhookIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1–64 lowercase letters, digits, "_" or "-", starting with a letter or digit');

/** One HTTPS endpoint that receives audit events, signed with its own secret. */
const webhookEndpoint = z
  .object({
    id: webhookIdSchema,
    /** https; http only on a loopback host, and only outside production (checked at start-up). */
    url: z.url(),
    /** Key of the HMAC-SHA256 signature of each delivery. */
    secret: z.string().min(32, 'must be at least 32 characters'),
    /** The audit events it receives (by name); absent: logins ended and client changes. */
    events: z.array(z.enum(auditEventNames)).min(1).optional(),
  })
  .strict();

/** Requests per window_seconds; 0 turns that limit off. */
const perWindow = (allowed: number) => z.number().int().min(0).default(allowed);

/** Requests per window_seconds for one endpoint, per IP address. */
const ipLimit = (perIp: number) => z.object({ per_ip: perWindow(perIp) }).strict().prefault({});

/**
 * Endpoints anyone may call naming any client (authorization requests, eID starts, logout) prove
 * nothing of who sends them: a per-client limit there would be anyone's to use up, and a few
 * addresses naming a client would make its real users wait. Such a limit stops the start-up
 * rather than be quietly dropped; 0, which asks for none, is taken.
 */
const NO_ANONYMOUS_CLIENT_LIMIT =
  "is no longer accepted: these requests do not prove which client sends them, so a per-client limit would let anyone use up the client's allowance. They are limited per address (per_ip) only: remove per_client";

/** Requests per window_seconds for one endpoint anyone may call, per IP address only. */
const anonymousLimit = (perIp: number) =>
  z
    .object({ per_ip: perWindow(perIp), per_client: z.literal(0, { error: NO_ANONYMOUS_CLIENT_LIMIT }).optional() })
    .strict()
    .prefault({});

/** Requests per window_seconds for one endpoint where the client authenticates: per IP address and per client. */
const limit = (perIp: number, perClient: number) =>
  z
    .object({ per_ip: perWindow(perIp), per_client: perWindow(perClient) })
    .strict()
    .prefault({});

export const configSchema = z
  .object({
    /** The issuer identifier: the public https URL relying parties use. */
    issuer: issuerSchema.optional(),
    /** Port to listen on. */
    port: z.number().int().min(0).max(65535).default(3000),
    /** Address to listen on; 0.0.0.0 inside a container. */
    host: z.string().default('127.0.0.1'),
    /**
     * Whether to believe X-Forwarded-For (and a proxy's traceId): false, or the number of trusted
     * proxy hops in front of the broker. true is one hop: the address the nearest proxy saw, the
     * last entry. Proxies append to the header a request arrives with, so its first entries are
     * whatever the sender wrote; taken as the person's address (as "every hop" did), a new one on
     * each request stepped around every per-address limit and went to BankID as endUserIp.
     */
    trust_proxy: z
      .union([z.boolean(), z.number().int().positive()])
      .default(false)
      .transform((trust) => (trust === true ? 1 : trust)),
    /** The HTTP server: limits that keep slow or oversized requests from holding connections. */
    server: z
      .object({
        /** Seconds a client has to send a request's headers. */
        headers_timeout_seconds: z.number().int().min(1).default(10),
        /** Seconds a client has to send a whole request, body included (a response may take longer). */
        request_timeout_seconds: z.number().int().min(1).default(30),
        /** Seconds an idle kept-alive connection stays open. */
        keep_alive_timeout_seconds: z.number().int().min(1).default(5),
        /** Open connections at most; more are closed at once. 0: no cap. */
        max_connections: z.number().int().min(0).default(10_000),
        /**
         * Open connections from one IP address (IPv6: its /64) at most; more are closed at once,
         * so that one host cannot hold max_connections open. Not counted with trust_proxy, where
         * every connection comes from the proxy. 0: no cap.
         */
        max_connections_per_ip: z.number().int().min(0).default(1000),
        /**
         * Connections the kernel completes and holds for the broker until it takes them (the
         * listen backlog; Linux caps it at net.core.somaxconn). Node's own 511 overflows when
         * thousands of pages connect at once (event streams reconnecting after an instance is gone,
         * a long turn of the event loop): the SYNs beyond it are dropped and retried after 1, 2, 4,
         * 8 and 16 s, and a page waits that long for an answer.
         */
        listen_backlog: z.number().int().min(1).max(65_535).default(4096),
        /**
         * Listening sockets on the port, each with its own accept queue (SO_REUSEPORT). Node's event
         * loop takes one new connection per listening socket per turn, so while it is busy with
         * requests on open connections, new ones wait in the queue for as many turns as are ahead
         * of them; N sockets take N per turn. Absent: 16 where Node can (22.12 and later, on Linux
         * or FreeBSD), else 1. More than 1 needs such a Node.
         */
        listen_sockets: z
          .number()
          .int()
          .min(1)
          .max(64)
          .refine((count) => count === 1 || reusePortSupported(), {
            message: `more than 1 needs Node 22.12 or later on Linux or FreeBSD (SO_REUSEPORT); this is Node ${process.versions.node} on ${process.platform}`,
          })
          .optional(),
        /** Largest request body in bytes; larger ones get 413. oidc-provider reads no more than 56 KiB. */
        max_body_bytes: z.number().int().min(1024).max(56 * 1024).default(32 * 1024),
      })
      .strict()
      .refine((s) => s.headers_timeout_seconds <= s.request_timeout_seconds, {
        message: 'headers_timeout_seconds must not be longer than request_timeout_seconds',
        path: ['headers_timeout_seconds'],
      })
      .prefault({}),
    /** Absent: the embedded in-memory store, for one process only. */
    redis: redis.optional(),
    /** Keys that sign cookies; the first signs, all verify, so rotate by prepending. */
    cookie_keys: z.array(z.string().min(32, 'each key must be at least 32 characters')).min(1).optional(),
    /** Key of the keyed hash that makes `sub`. Changing it changes every person's sub. */
    subject_secret: z.string().min(32, 'must be at least 32 characters').optional(),
    /**
     * Keys that encrypt personal data at rest in the store (AES-256-GCM); the first encrypts,
     * all decrypt, so rotate by prepending. Absent: one is generated once and kept in the store.
     */
    store_encryption_keys: z.array(z.string().min(32, 'each key must be at least 32 characters')).min(1).optional(),
    /** Path to a private JWKS (JSON). Absent: keys are generated once and kept in the store. */
    jwks: z.string().min(1).optional(),
    ttl: z
      .object({
        authorization_code: seconds.default(60),
        access_token: seconds.default(600),
        id_token: seconds.default(600),
        refresh_token: seconds.default(14 * 24 * 3600),
        /**
         * How long a person has to choose an eID and start it (the picker, a new try at an eID).
         * Past it, the login's next step ends it at the client with access_denied (README,
         * "When a login runs out of time").
         */
        interaction: seconds.default(600),
        /**
         * How much longer than `interaction` a login may live, at most, for an eID started within
         * it: the login lives on for as long as its eID may still finish (each eID's own time
         * limit: BankID's allowed_polling_for_minutes, an upstream eID's 15 minutes), never
         * longer than `interaction` plus this. The interaction, its cookies and the broker's
         * records of the login all live that long.
         */
        eid_extension: seconds.default(1800),
        /** The broker's own browser session, used for logout. */
        session: seconds.default(8 * 3600),
      })
      .strict()
      .prefault({}),
    clients: z.array(clientSchema).default([]),
    /** OpenID Connect CIBA (the backchannel authentication endpoint), for clients registered for it. */
    ciba: z
      .object({
        /** Seconds a client waits between polls of the token endpoint (`interval`); faster polls get slow_down. */
        interval: z.number().int().min(1).max(60).default(5),
        /** Seconds a backchannel request lives (`expires_in`), at most; a client's requested_expiry may shorten it. */
        expires_in: z.number().int().min(30).max(600).default(180),
        /**
         * How many requests one client may send for one person within `window_seconds`: each puts
         * a prompt on the person's phone, and a bound keeps a client from flooding it (push
         * bombing). Past it, access_denied (403) until the window ends.
         */
        per_person: z
          .object({
            requests: z.number().int().min(1).max(100).default(5),
            window_seconds: z.number().int().min(10).max(86_400).default(600),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({
        /** Bearer token of the admin API (/admin/…). Absent: the admin API is off (404). */
        token: z.string().min(32, 'must be at least 32 characters').optional(),
      })
      .strict()
      .prefault({}),
    /** OIDC Dynamic Client Registration (RFC 7591) at /reg, and its management (RFC 7592). */
    registration: z
      .object({
        enabled: z.boolean().default(false),
        /**
         * What a registration request must carry: a static token (a string), a token the admin
         * API issued (true), or nothing (false: open registration, whose clients are marked
         * registered_openly and get their error answers, and a logout that asked nothing, on a page
         * first, src/oidc/leaving-page.ts).
         */
        initial_access_token: z.union([z.string().min(32, 'must be at least 32 characters'), z.boolean()]).default(true),
        /** How many registrations a token the admin API issues is good for, unless its request says otherwise. */
        initial_access_token_max_uses: z.number().int().min(1).max(10_000).default(1),
        /** Seconds such a token lives, unless its request says otherwise. */
        initial_access_token_expires_in: z.number().int().min(60).max(30 * 24 * 3600).default(24 * 3600),
        /** Registration management (RFC 7592): a registered client reads, updates and deletes itself. */
        management: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** One section per eID, by id; each is read only by that eID's plugin. */
    eids: z.record(eidIdSchema, z.unknown()).default({}),
    ui: z
      .object({
        /** Language of the pages when neither the person, ui_locales nor the browser picks one. */
        default_locale: z.enum(['sv', 'en', 'nb', 'fi', 'da']).default('en'),
        /** Where people get help; shown on error pages when `show_contact`. */
        support_email: z.email().optional(),
        show_contact: z.boolean().default(false),
        /**
         * The operator's own touches: `messages` replace texts by key per language (e.g.
         * {"sv": {"picker.title": "…"}}), `css` is a stylesheet added to every page (served at
         * /static/overrides.css), `content` is free text by key and language for custom frontends.
         */
        overrides: z
          .object({
            messages: z.partialRecord(z.enum(['sv', 'en', 'nb', 'fi', 'da']), z.record(z.string(), z.string())).default({}),
            css: z.string().max(100_000).default(''),
            content: z.record(z.string(), z.partialRecord(z.enum(['sv', 'en', 'nb', 'fi', 'da']), z.string())).default({}),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Serves a small relying party at /demo that logs in through this broker. */
    demo: z.boolean().default(false),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
    audit: z
      .object({
        /** Personal numbers in audit events in clear; by default only their birth-date part shows. */
        personal_numbers_in_clear: z.boolean().default(false),
        /** The built-in sink: every event is also appended to this Redis stream (on the store). */
        stream: z
          .object({
            enabled: z.boolean().default(true),
            /** The stream's key, under redis.key_prefix. */
            key: z.string().min(1).default(KEY_FAMILIES.auditStream.prefix),
            /** About how many events the stream keeps (older ones are trimmed). */
            max_length: z.number().int().min(1).default(100_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Audit events POSTed to the operator's HTTPS endpoints, signed, from a queue in the store. */
    webhooks: z
      .object({
        endpoints: z.array(webhookEndpoint).default([]),
        /** How long a delivery is tried before it is given up: from its first attempt. */
        retry_for_seconds: seconds.default(24 * 3600),
        /** The wait before the first retry; it doubles with each failure (with jitter)… */
        first_retry_seconds: z.number().positive().default(5),
        /** …up to this. */
        max_retry_interval_seconds: z.number().positive().default(3600),
        /** Time limit of each attempt. */
        timeout_ms: z.number().int().positive().default(5000),
        /**
         * Deliveries waiting at most, over all instances. Anyone can cause the events an endpoint
         * wants (a login started and cancelled), and each waits a day while the endpoint is down:
         * past this many, new ones are dropped (they stay in the log and the audit stream). Each
         * instance counts once a second: the others may pass it by what they queue in one second.
         */
        max_queued: z.number().int().min(1).default(100_000),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        /** Prometheus metrics at /metrics. */
        enabled: z.boolean().default(true),
        /** Bearer token /metrics requires. */
        token: z.string().min(32, 'must be at least 32 characters').optional(),
        /** Serve /metrics on this port only (not on the broker's own port). */
        port: z.number().int().min(0).max(65535).optional(),
        /** Address the metrics port listens on. */
        host: z.string().default('127.0.0.1'),
      })
      .strict()
      .prefault({}),
    /** The circuit breaker around each eID's upstream (BankID's RP API, an upstream OIDC provider). */
    circuit_breaker: z
      .object({
        /** The share of failed calls (unreachable, timed out, 5xx) over `window_seconds` that opens the circuit. */
        failure_rate: z.number().gt(0).lt(1).default(0.5),
        /** The sliding window the failure rate is taken over. */
        window_seconds: z.number().positive().default(30),
        /** Calls the window must hold before its failure rate can open the circuit. */
        minimum_calls: z.number().int().min(1).default(10),
        /** Failed calls in a row that open the circuit whatever the rate (an upstream down while traffic is thin). */
        failure_threshold: z.number().int().min(1).default(10),
        /** Seconds before the first probe of an open circuit; later ones back off (with jitter) up to max. */
        half_open_after_seconds: z.number().positive().default(2),
        max_half_open_after_seconds: z.number().positive().default(10),
        /** Seconds between health probes of each upstream while its circuit is closed; 0: none. */
        probe_interval_seconds: z.number().min(0).default(30),
      })
      .strict()
      .prefault({}),
    /**
     * The event streams pages wait on (GET /interaction/<uid>/api/events), counted per instance:
     * open streams of one login, and of one IP address (people behind one NAT share it).
     */
    event_streams: z
      .object({
        per_login: z.number().int().min(1).default(4),
        per_ip: z.number().int().min(1).default(200),
        /** Seconds between two comment lines on an idle stream, under every proxy's idle timeout. */
        heartbeat_seconds: z.number().int().min(1).max(60).default(15),
      })
      .strict()
      .prefault({}),
    shutdown: z
      .object({
        /**
         * Seconds a shutdown (SIGTERM) waits for requests in flight before it cuts them. Keep it
         * below the platform's grace period (10 s for docker stop, 30 s on Kubernetes). A return
         * from an upstream eID whose code is being exchanged waits that eID's timeout when longer.
         */
        drain_seconds: z.number().min(0).default(8),
      })
      .strict()
      .prefault({}),
    /** Answering 503 busy at once while this process's event loop lags, rather than slowly or not at all. */
    load_shedding: z
      .object({
        enabled: z.boolean().default(true),
        /** How far behind the event loop may run before new requests are turned away. */
        max_event_loop_delay_ms: z.number().int().min(1).default(500),
      })
      .strict()
      .prefault({}),
    /**
     * Limits per IP address and per client, shared across instances through the store. Each
     * instance decides at once from the counts it last saw in the store plus its own since, and
     * sends its counts every flush_ms: one instance never lets more than a limit through, and all
     * together at most what the other instances let through in one flush_ms and its round trip
     * more (README, Rate limits).
     */
    rate_limits: z
      .object({
        enabled: z.boolean().default(true),
        /** Length of one counting window; windows start at multiples of it (epoch), the same on every instance. */
        window_seconds: z.number().int().min(1).default(60),
        /** How long an instance holds its counts before it sends them to the store (all keys in one round trip). */
        flush_ms: z.number().int().min(1).max(5000).default(50),
        /**
         * The keys (an address or client in one limit) an instance counts in a window. Past them,
         * a request with a key it does not count is counted in the store first, a round trip.
         */
        local_counters: z.number().int().min(1).default(100_000),
        /** Authorization requests: /auth and pushed ones (/request). */
        auth: anonymousLimit(300),
        /** The token endpoint, introspection and revocation; per client by the client_secret_basic credentials. */
        token: limit(1200, 6000),
        /**
         * CIBA requests (/backchannel): each starts a transaction at the eID on a person's phone;
         * per client by the client_secret_basic credentials.
         */
        backchannel: limit(600, 600),
        /** eID starts: each may cost an order at the eID (a BankID order). */
        eid_start: anonymousLimit(120),
        /** RP-initiated logout: /session/end and its confirmation. */
        logout: anonymousLimit(60),
        /** Dynamic client registration (/reg). */
        registration: ipLimit(20),
        /** The admin API (/admin/…), counted before its token is checked. */
        admin: ipLimit(300),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  // Without an issuer the broker names itself http://localhost:<port>: on port 0 that is no address at all.
  .refine((c) => c.port !== 0 || c.issuer !== undefined, {
    message: '0 (any free port) needs an issuer: the broker would not know its own address',
    path: ['port'],
  })
  .refine((c) => c.circuit_breaker.max_half_open_after_seconds >= c.circuit_breaker.half_open_after_seconds, {
    message: 'must be at least half_open_after_seconds',
    path: ['circuit_breaker', 'max_half_open_after_seconds'],
  })
  // Open registration lets anyone write a client to the store: the per-address limit is all that bounds it.
  .refine((c) => !openRegistration(c) || (c.rate_limits.enabled && c.rate_limits.registration.per_ip > 0), {
    message:
      'false (open registration) needs the registration rate limit (rate_limits.enabled, rate_limits.registration.per_ip above 0), or registration needs a token',
    path: ['registration', 'initial_access_token'],
  });

/** Whether anyone may register a client, with no token. */
function openRegistration(c: { registration: { enabled: boolean; initial_access_token: string | boolean } }): boolean {
  return c.registration.enabled && c.registration.initial_access_token === false;
}

export type BrokerConfig = z.output<typeof configSchema>;
export type ClientConfig = BrokerConfig['clients'][number];
export type ConfigInput = z.input<typeof configSchema>;
