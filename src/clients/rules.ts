import { isDeepStrictEqual } from 'node:util';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { z, type ZodType } from 'zod';
import { ConfigError, parseSection } from '../config/load.js';
import type { EidPlugin } from '../eids/plugin.js';
import { supportedLocales } from '../http/locale.js';
import { isShowable, UNSHOWABLE_TEXT } from '../http/shown-text.js';
import { foldLanguageTags, languageTagged, TAGGED_FIELDS, unkeptLanguage, type LocalizableField } from './localized.js';
import { EID_FIELD_NAME } from './names.js';
import { CIBA_GRANT_TYPE } from '../oidc/grant-types.js';
import { asErrorDescription } from '../oidc/error-descriptions.js';

/**
 * The rules every client must keep, whichever way it came in: the configuration file, the admin
 * API or dynamic registration. oidc-provider checks OIDC's own metadata; these add what the
 * broker insists on (https redirects for web clients, RFC 8252 redirects and no secret for
 * native apps, https logos, linked pages and keys) and validate the metadata the broker and its
 * eIDs add to OIDC's.
 *
 * A problem is an `invalid_client_metadata` error (`invalid_redirect_uri` for redirect_uris,
 * as RFC 7591 has it) whose description starts with the field, e.g.
 * `redirect_uris[0]: must use https …`.
 */

/**
 * A client's name as the broker's pages show it: a line of plain text, of a length a page can
 * hold, that reads as it is written (a "Back to …" must not read as something else). Checked as
 * given, before trimming: the name is kept as given, and trim() takes line breaks, U+2028 and
 * U+FEFF for white space.
 */
export const shownName = z
  .string()
  .refine((name) => isShowable(name), UNSHOWABLE_TEXT)
  .trim()
  .min(1)
  .max(100);

/** Metadata the core adds to OIDC's, with the shape each must have. */
export const coreFields = {
  /** Shown to the person on the broker's pages. */
  display_name: shownName,
  /** The eIDs this client may use, by id. */
  allowed_eids: z.array(z.string().min(1)).min(1, 'must name at least one eID; leave it out to allow every eID'),
  /** The acr values this client may use; others are refused and never offered. */
  allowed_acr_values: z.array(z.string().min(1)).min(1, 'must name at least one acr value; leave it out to allow every one'),
  /** The page language when the request has no ui_locales. */
  default_ui_locales: z.array(z.enum(supportedLocales)).min(1),
  /**
   * Whether a person whose eID fails or who cancels at it comes back to the picker (true, the
   * default) or the login ends at once with the OIDC error.
   */
  return_to_picker: z.boolean(),
  /**
   * The operator's registration of this client is the consent to offline access (OIDC Core §11):
   * it gets a refresh token with every code, without prompt=consent.
   */
  refresh_tokens_without_consent: z.boolean(),
  /** OpenID Connect Front-Channel Logout 1.0: the page the broker's logout page loads in an iframe. */
  frontchannel_logout_uri: z.string(),
  /** Whether that page needs `iss` and `sid`; the client's ID tokens then carry `sid`. */
  frontchannel_logout_session_required: z.boolean(),
  /** A resource server: it may introspect tokens issued to any client, not only its own. */
  resource_server: z.boolean(),
  /**
   * Set by the broker on a client registered with no initial access token (open registration):
   * anyone's client, whose error answers and unasked logouts stop at a page on the broker's
   * origin rather than sending the person on by themselves (src/oidc/leaving-page.ts). The operator may set or
   * remove it through the admin API.
   */
  registered_openly: z.boolean(),
} satisfies Record<string, ZodType>;

/** A page of the client's own a person may be sent to: http(s), and https but on a loopback host (checkLinkedPages). */
const webPage = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/**
 * What each human-readable field is held to when given in a language (`client_name#sv`): what it
 * is held to without one. Without a tag, oidc-provider checks the URIs and these rules the name
 * and the logo (check below).
 */
const localizableShapes: Record<LocalizableField, ZodType> = {
  client_name: shownName,
  client_uri: webPage,
  logo_uri: z.url({ protocol: /^https$/, error: 'must be an https URL' }),
  policy_uri: webPage,
  tos_uri: webPage,
};

/** The fields in the languages the broker keeps, with the shape of each. */
export const taggedFields: Record<string, ZodType> = Object.fromEntries(TAGGED_FIELDS.map(({ name, field }) => [name, localizableShapes[field]]));

/**
 * `request` with its human-readable fields in the page languages (foldLanguageTags): a field
 * under a tag of a language the broker does not keep is refused (oidc-provider would drop it at
 * /reg without a word, and the admin API would call it unknown), and one under a region's or
 * script's tag (client_name#sv-SE) is held to its field's rules under the name the client gave
 * it, the ones the fold leaves out too.
 */
export function inPageLanguages(request: Readonly<Record<string, unknown>>): Record<string, unknown> {
  for (const [key, value] of Object.entries(request)) {
    const problem = unkeptLanguage(key);
    if (problem) invalid(key, problem);
    // The page's own tags (client_name#sv) are checked with the rest (check); null: a merge patch removing one.
    const tagged = languageTagged(key);
    if (tagged?.locale && tagged.tag !== tagged.locale && value !== null) validateField(key, localizableShapes[tagged.field], value);
  }
  return foldLanguageTags(request);
}

/** One thing only the operator grants, read from a field of a client's metadata. */
interface OperatorGrant {
  /** What of the field's value is the grant; undefined when the value asks for none of it. */
  granted(value: unknown): unknown;
  /** The grant in words, when it is less than the whole field. */
  words?: string;
  /** The grant is the whole field: what the client holds stays when an update leaves it out. */
  whole?: true;
  /** Why a request may not ask for it, when not for being the operator's to give. */
  refusal?: string;
}

const wholeField: OperatorGrant = { granted: (value) => (value === null ? undefined : value), whole: true };

/**
 * A whole field whose value `none` asks for none of the grant (false, no types): a client may
 * send it, as oidc-provider's own registration answer shows `authorization_details_types: []`.
 * Like a field left out, it keeps what the operator gave.
 */
const wholeFieldBut = (none: unknown): OperatorGrant => ({ ...wholeField, granted: (value) => (isDeepStrictEqual(value, none) ? undefined : wholeField.granted(value)) });

/**
 * What only the operator grants (configuration file, admin API), because each gives a client more
 * than OIDC would or lets it speak in the operator's name, and the broker's own mark on a client
 * anyone could register: a client never gives itself one by registering (RFC 7591), nor changes
 * or drops one by updating its registration (RFC 7592).
 */
const operatorGrants: Readonly<Record<string, OperatorGrant>> = {
  // Introspects every client's tokens.
  resource_server: wholeFieldBut(false),
  // The operator's registration of the client is the consent to offline access.
  refresh_tokens_without_consent: wholeFieldBut(false),
  // The operator's word for who is asking: the pages show it, and eIDs show it in their apps.
  display_name: wholeField,
  // Each type has the eID show the person a text of the client's (a signature, a payment, a
  // message) in its app, under the operator's name.
  authorization_details_types: wholeFieldBut([]),
  // CIBA starts an eID on any person's phone by their personal number.
  grant_types: { granted: (value) => (Array.isArray(value) && value.includes(CIBA_GRANT_TYPE) ? CIBA_GRANT_TYPE : undefined), words: CIBA_GRANT_TYPE },
  // Its errors stop at a page before the person leaves: the client would drop it to redirect at once.
  registered_openly: { ...wholeField, refusal: 'is set by the broker on a client registered without an initial access token, not through registration' },
};

/**
 * Refuses a registration request that asks for a grant only the operator gives, naming the
 * field; an update (RFC 7592) may repeat what the client holds. What the operator gave a
 * registered client as a whole field stays when an update leaves it out: it is not the client's
 * to drop (its display_name would give way to its own client_name).
 */
function keepOperatorGrants(requested: Readonly<Record<string, unknown>>, held: Readonly<Record<string, unknown>>, metadata: Record<string, unknown>): void {
  for (const [field, grant] of Object.entries(operatorGrants)) {
    const asked = grant.granted(requested[field]);
    if (asked !== undefined && !isDeepStrictEqual(asked, grant.granted(held[field]))) {
      invalid(field, grant.refusal ?? `${grant.words ? `${grant.words} ` : ''}is granted by the operator (configuration or admin API), not through registration`);
    }
    if (grant.whole && asked === undefined && held[field] !== undefined) metadata[field] = held[field];
  }
}

/** Standard metadata a declared field may not take over. */
const reservedNames = new Set([
  'client_id', 'client_secret', 'client_name', 'client_uri', 'logo_uri', 'policy_uri', 'tos_uri', 'redirect_uris',
  'post_logout_redirect_uris', 'grant_types', 'response_types', 'application_type', 'token_endpoint_auth_method',
  'subject_type', 'jwks_uri', 'id_token_signed_response_alg', 'userinfo_signed_response_alg', 'sector_identifier_uri', 'contacts', 'scope',
  'backchannel_logout_uri', 'backchannel_logout_session_required', 'authorization_details_types', 'require_pushed_authorization_requests',
]);

/** Host names that mean this machine, where plain http is allowed outside production. */
export const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** RFC 8252 §8.3: native apps use the IP literal; `localhost` may resolve elsewhere. */
const NATIVE_LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);
/** RFC 8252 §7.1: a private-use scheme is a reversed domain name the app's publisher controls. */
const REVERSE_DOMAIN_SCHEME = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/;

export interface DeclaredField {
  eid: string;
  schema: ZodType;
}

export interface ClientRules {
  /** Every field the broker adds to OIDC's metadata: the core's, then those the configured eIDs declare. */
  readonly extraFields: string[];
  /** Fields the configured eIDs declare, by name. */
  readonly eidFields: ReadonlyMap<string, DeclaredField>;
  /** oidc-provider's extraClientMetadata.validator: runs the rules each time a client is built. */
  readonly validator: (ctx: KoaContextWithOIDC | undefined, key: string, value: unknown, metadata: object) => void;
  /**
   * Checks a client's metadata; throws errors.InvalidClientMetadata naming the field. When
   * `written`, also what is checked only of a client being written (checkWritten) — not when a
   * stored one is read, so that turning an eID off, or a rule made stricter, never makes a
   * stored client unreadable: it keeps working as it did, and an update must meet the rules.
   */
  check(metadata: Record<string, unknown>, options: { written: boolean }): void;
  /**
   * What is checked of a client being written only: the eIDs and acr values it names are
   * configured here, and its URIs are written as a URL parser writes them.
   */
  checkWritten(metadata: Record<string, unknown>): void;
}

export interface ClientRulesOptions {
  /** The broker's issuer: redirect URIs on its own origin are as safe as the broker itself. */
  issuer: string;
  /** The configured eIDs, as far as clients name them (a checked eID, before it starts, declares as much). */
  eids: ReadonlyArray<ClientFacingEid>;
}

/** What clients may name of an eID: its id, its acr values and the metadata fields it reads. */
export type ClientFacingEid = Pick<EidPlugin, 'id' | 'acrValues' | 'clientMetadata'>;

function invalid(field: string, problem: string): never {
  // The field's name may be one the client made up (client_name#<any tag>): shown in the
  // characters a description may hold, and no longer than a name worth reading.
  const named = field.length > FIELD_NAME_SHOWN ? `${field.slice(0, FIELD_NAME_SHOWN)}...` : field;
  throw new errors.InvalidClientMetadata(asErrorDescription(`${named}: ${problem}`));
}

/** The most of a field's name a refusal repeats: longer than any field the broker knows. */
const FIELD_NAME_SHOWN = 64;

/** Validates one field's value against its schema, with the path of the problem in the message. */
function validateField(field: string, schema: ZodType, value: unknown): void {
  try {
    parseSection(schema, value, [field]);
  } catch (err) {
    if (err instanceof ConfigError) throw new errors.InvalidClientMetadata(err.message);
    throw err;
  }
}

function parseUri(uri: string): URL | undefined {
  try {
    return new URL(uri);
  } catch {
    return undefined;
  }
}

/** The redirect rules of one application type: the problem with `url`, or undefined when it may be used. */
type RedirectRule = (url: URL, issuerOrigin: string) => string | undefined;

const redirectRules: Record<'web' | 'native', RedirectRule> = {
  web(url, issuerOrigin) {
    if (url.protocol === 'https:') return undefined;
    if (url.protocol === 'http:' && (LOOPBACK_HOSTS.has(url.hostname) || url.origin === issuerOrigin)) return undefined;
    if (url.protocol === 'http:') return 'must use https (http only on a loopback address, such as http://127.0.0.1:8080/callback)';
    return 'a web client redirects to https URLs; a private-use scheme needs application_type native';
  },
  native(url) {
    if (url.protocol === 'https:') {
      return LOOPBACK_HOSTS.has(url.hostname) ? 'a loopback redirect uses http, e.g. http://127.0.0.1/callback (RFC 8252 §7.3)' : undefined;
    }
    if (url.protocol === 'http:') {
      if (NATIVE_LOOPBACK_HOSTS.has(url.hostname)) return undefined;
      if (url.hostname === 'localhost') return 'use 127.0.0.1 or [::1] rather than localhost (RFC 8252 §8.3)';
      return 'http is only for loopback redirects, to 127.0.0.1 or [::1] on any port (RFC 8252 §7.3)';
    }
    return REVERSE_DOMAIN_SCHEME.test(url.protocol.slice(0, -1))
      ? undefined
      : 'a private-use URI scheme must be a reversed domain name, such as com.example.app:/callback (RFC 8252 §7.1)';
  },
};

/**
 * Whether `uri` is written as a URL parser writes what it reads: redirect URIs are matched to the
 * registered string exactly, while a browser (and the broker's own fetch) goes where the parser
 * says. A string that reads otherwise — white space or control characters the parser drops, a
 * backslash it takes for a slash (`https://evil.example\@rp.example/`), a host in capitals,
 * percent-encoded or as a number, dot segments — would send the person or the request somewhere
 * else than whoever reads the registration sees. Only the slash of an empty path may be left out:
 * `https://rp.example` goes to `https://rp.example/` and nowhere else.
 */
function isCanonical(uri: string, url: URL): boolean {
  return url.href === uri || (url.pathname === '/' && url.search === '' && url.href === `${uri}/`);
}

/** Checks one URI the broker sends a browser or a request to; returns it parsed. */
function checkUri(field: string, uri: unknown, rule: RedirectRule, issuerOrigin: string): URL {
  if (typeof uri !== 'string') invalid(field, 'must be a string');
  const url = parseUri(uri);
  if (!url) invalid(field, 'must be an absolute URI');
  if (uri.includes('#')) invalid(field, 'must not contain a fragment');
  if (url.username || url.password) invalid(field, 'must not contain a user name or password');
  const problem = rule(url, issuerOrigin);
  if (problem) invalid(field, problem);
  return url;
}

function checkRedirects(label: string, uris: unknown, applicationType: 'web' | 'native', issuerOrigin: string): void {
  if (uris === undefined) return;
  if (!Array.isArray(uris)) invalid(label, 'must be an array of URIs');
  uris.forEach((uri: unknown, i) => checkUri(`${label}[${i}]`, uri, redirectRules[applicationType], issuerOrigin));
}

/**
 * The client's addresses the broker calls itself, whatever the application type: its keys (for
 * private_key_jwt and signed request objects), its back-channel logout and its sector's list of
 * redirect URIs. Over plain http anyone on the way could hand the broker keys of their own, and
 * authenticate or sign requests in the client's name, or read the logout token: https, or http on
 * a loopback host (oidc-provider wants https for the sector). The page where the client starts a
 * login of its own (initiate_login_uri, which oidc-provider wants in https) is held to the same.
 */
const SERVER_URIS = ['jwks_uri', 'backchannel_logout_uri', 'sector_identifier_uri', 'initiate_login_uri'] as const;

function checkServerUris(metadata: Record<string, unknown>, issuerOrigin: string): void {
  for (const field of SERVER_URIS) if (metadata[field] !== undefined) checkUri(field, metadata[field], redirectRules.web, issuerOrigin);
}

/** Every field holding a URI the broker sends a browser or a request to: a list of them, or one. */
const URI_FIELDS = ['redirect_uris', 'post_logout_redirect_uris', 'frontchannel_logout_uri', ...SERVER_URIS] as const;

/**
 * Refuses a URI not written as a URL parser writes it (isCanonical), naming the field and the
 * form to register. Run once the rules have found every URI a string that parses.
 */
function checkWrittenForms(metadata: Record<string, unknown>): void {
  for (const field of URI_FIELDS) {
    const value = metadata[field];
    const uris: unknown[] = Array.isArray(value) ? value : value === undefined ? [] : [value];
    uris.forEach((uri, i) => {
      const url = typeof uri === 'string' ? parseUri(uri) : undefined;
      if (typeof uri === 'string' && url && !isCanonical(uri, url)) {
        invalid(Array.isArray(value) ? `${field}[${i}]` : field, `a URL parser reads it as ${url.href}: register it as written there, without white space, control characters, backslashes, capitals in the host, percent-encoding in the host or dot segments`);
      }
    });
  }
}

/**
 * The front-channel logout URI is a page of a web server, whatever the application type: https,
 * or http on a loopback host; Front-Channel Logout §2 also wants it on the scheme, host and port
 * of a redirect URI.
 */
function checkFrontChannelLogoutUri(metadata: Record<string, unknown>, issuerOrigin: string): void {
  if (metadata.frontchannel_logout_uri === undefined) return;
  const url = checkUri('frontchannel_logout_uri', metadata.frontchannel_logout_uri, redirectRules.web, issuerOrigin);
  const redirectOrigins = ((metadata.redirect_uris ?? []) as string[]).map((uri) => parseUri(uri)?.origin);
  if (!redirectOrigins.includes(url.origin)) invalid('frontchannel_logout_uri', 'must have the scheme, host and port of one of the redirect_uris');
}

/**
 * The client's pages the broker's own pages link to (its home page, privacy policy and terms), in
 * any language. A link in the clear from a login page could be swapped on the way for a page that
 * asks the person for anything: https, or http on a loopback host (a development machine).
 */
const LINKED_PAGES: ReadonlySet<string> = new Set<LocalizableField>(['client_uri', 'policy_uri', 'tos_uri']);

function checkLinkedPages(metadata: Record<string, unknown>, issuerOrigin: string): void {
  for (const [key, value] of Object.entries(metadata)) {
    const url = LINKED_PAGES.has(languageTagged(key)?.field ?? key) && typeof value === 'string' ? parseUri(value) : undefined;
    const problem = url && redirectRules.web(url, issuerOrigin);
    if (problem) invalid(key, problem);
  }
}

/** Which eID's client metadata each field is; refuses names that collide or are not an eID field's. */
function collectEidFields(eids: ReadonlyArray<ClientFacingEid>): Map<string, DeclaredField> {
  const fields = new Map<string, DeclaredField>();
  for (const plugin of eids) {
    for (const [name, schema] of Object.entries(plugin.clientMetadata ?? {})) {
      const where = `eids.${plugin.id}: client metadata ${name}`;
      if (!EID_FIELD_NAME.test(name)) throw new ConfigError(`${where} must be lowercase words joined by _`);
      if (name in coreFields || reservedNames.has(name)) throw new ConfigError(`${where} is the core's own`);
      const other = fields.get(name);
      if (other) throw new ConfigError(`${where} is already declared by ${other.eid}`);
      fields.set(name, { eid: plugin.id, schema });
    }
  }
  return fields;
}

export function createClientRules({ issuer, eids }: ClientRulesOptions): ClientRules {
  const issuerOrigin = new URL(issuer).origin;
  const eidFields = collectEidFields(eids);
  const eidIds = eids.map((plugin) => plugin.id);
  const eidByAcr = new Map(eids.flatMap((plugin) => plugin.acrValues.map((acr) => [acr, plugin.id] as const)));
  const schemas: Record<string, ZodType> = { ...coreFields, ...taggedFields, ...Object.fromEntries([...eidFields].map(([name, field]) => [name, field.schema])) };
  const extraFields = Object.keys(schemas);

  function checkReferences(metadata: Record<string, unknown>): void {
    const allowedEids = metadata.allowed_eids as string[] | undefined;
    allowedEids?.forEach((id, i) => {
      if (!eidIds.includes(id)) invalid(`allowed_eids[${i}]`, `no eID ${id} is configured (configured: ${eidIds.join(', ') || 'none'})`);
    });
    (metadata.allowed_acr_values as string[] | undefined)?.forEach((acr, i) => {
      const eid = eidByAcr.get(acr);
      if (!eid) invalid(`allowed_acr_values[${i}]`, `no configured eID serves ${acr}`);
      if (allowedEids && !allowedEids.includes(eid)) invalid(`allowed_acr_values[${i}]`, `${acr} is ${eid}'s, which allowed_eids leaves out`);
    });
  }

  function checkWritten(metadata: Record<string, unknown>): void {
    checkWrittenForms(metadata);
    checkReferences(metadata);
  }

  function check(metadata: Record<string, unknown>, { written }: { written: boolean }): void {
    for (const [field, schema] of Object.entries(schemas)) {
      if (metadata[field] !== undefined) validateField(field, schema, metadata[field]);
    }
    // OIDC's own name, which the pages show when display_name is not set, whichever way the client came in.
    if (metadata.client_name !== undefined) validateField('client_name', shownName, metadata.client_name);
    const applicationType = metadata.application_type === 'native' ? 'native' : 'web';
    checkRedirects('redirect_uris', metadata.redirect_uris, applicationType, issuerOrigin);
    checkRedirects('post_logout_redirect_uris', metadata.post_logout_redirect_uris, applicationType, issuerOrigin);
    checkServerUris(metadata, issuerOrigin);
    checkLinkedPages(metadata, issuerOrigin);
    checkFrontChannelLogoutUri(metadata, issuerOrigin);
    if (applicationType === 'native' && (metadata.token_endpoint_auth_method ?? 'client_secret_basic') !== 'none') {
      invalid('token_endpoint_auth_method', 'a native app cannot keep a secret (RFC 8252 §8.5): use none, with PKCE');
    }
    if (metadata.refresh_tokens_without_consent === true && Array.isArray(metadata.grant_types) && !metadata.grant_types.includes('refresh_token')) {
      invalid('refresh_tokens_without_consent', 'needs the refresh_token grant (grant_types)');
    }
    if (metadata.logo_uri !== undefined) {
      const logo = typeof metadata.logo_uri === 'string' ? parseUri(metadata.logo_uri) : undefined;
      if (logo?.protocol !== 'https:') invalid('logo_uri', 'must be an https URL');
    }
    if (written) checkWritten(metadata);
  }

  return {
    extraFields,
    eidFields,
    check,
    checkWritten,
    // oidc-provider calls the validator once per extra field, with the whole metadata (its own
    // defaults filled in); the first call checks everything. `ctx` is set for registration
    // requests, which write the client, so that is when what is checked of a written client runs too.
    validator(ctx, key, value, metadata) {
      if (key !== extraFields[0]) return;
      if (ctx !== undefined) {
        // What the request said, not what oidc-provider kept of it: it has dropped the tags it
        // was not told of (client_name#sv-SE), which are kept under the page's own (client_name#sv).
        const requested = ctx.oidc.body ?? {};
        const held = ctx.oidc.route === 'client_update' ? (ctx.oidc.client?.metadata() ?? {}) : {};
        keepOperatorGrants(requested, held, metadata as Record<string, unknown>);
        const folded = inPageLanguages(requested);
        for (const { name } of TAGGED_FIELDS) if (folded[name] !== undefined) (metadata as Record<string, unknown>)[name] = folded[name];
      }
      check(metadata as Record<string, unknown>, { written: ctx !== undefined });
    },
  };
}
