import { z, type ZodType } from 'zod';
import { clientIdSchema, oidcFields, requiredFields } from '../clients/metadata.js';
import { TAGGED_FIELDS } from '../clients/localized.js';
import { subtagsOf, supportedLocales, type Locale } from '../http/locale.js';
import { coreFields, taggedFields, type ClientRules } from '../clients/rules.js';
import { webhookRequest } from './webhooks.js';

/**
 * The OpenAPI 3.1 document of the admin API, served at /admin/openapi.json. The shapes of the
 * client fields are generated from the same schemas the API validates with, so the document
 * cannot drift from the code; the fields the configured eIDs declare are included.
 */

type JsonSchema = Record<string, unknown>;

const descriptions: Record<string, string> = {
  client_id: 'The client identifier. Chosen by the operator or generated; never reused, even after the client is deleted.',
  client_id_issued_at: 'When the client was created (seconds since the epoch).',
  redirect_uris:
    'Matched exactly. Web clients: https, or http on a loopback host. Native apps (RFC 8252): a private-use scheme in reverse-domain form (com.example.app:/callback), a claimed https URI, or http://127.0.0.1 or http://[::1] on any port.',
  post_logout_redirect_uris: 'Where RP-initiated logout may return to; the same rules as redirect_uris.',
  application_type: 'web (default) or native (RFC 8252).',
  token_endpoint_auth_method:
    'Defaults to client_secret_basic for web clients and none for native apps. none makes a public client: no secret, PKCE only. Native apps must use none.',
  grant_types:
    'authorization_code, and refresh_token unless the client must not get refresh tokens. Default: both. urn:openid:params:grant-type:ciba (with backchannel_token_delivery_mode) lets the client use CIBA (README, Phone: CIBA).',
  client_name: 'The name of the client (RFC 7591).',
  client_uri: "The client's home page: https (http only on a loopback host).",
  logo_uri: "The client's logo: an https URL.",
  policy_uri: "The client's privacy policy: https (http only on a loopback host).",
  tos_uri: "The client's terms of service: https (http only on a loopback host).",
  contacts: 'Email addresses of the people responsible for the client.',
  subject_type: 'public (default) or pairwise: pairwise gives this client its own sub for each person.',
  sector_identifier_uri:
    "For a pairwise client whose redirect URIs are on several hosts: an https URL of a JSON array holding them all, fetched when the client is written. The client's sub values are then those of its sector.",
  id_token_signed_response_alg: 'ES256 (default) or RS256.',
  userinfo_signed_response_alg: 'ES256 or RS256: userinfo answers as a JWT signed with it. Absent (default): plain JSON.',
  jwks_uri: "The client's public keys, for private_key_jwt.",
  backchannel_logout_uri: 'Back-Channel Logout 1.0: where the broker POSTs a logout token when the person confirms a logout. https (http only on a loopback host).',
  backchannel_logout_session_required: 'true: the logout token and the ID tokens carry sid.',
  authorization_details_types:
    'RFC 9396: the authorization_details types the client may send (Swedish BankID: sign, payment, login_message). Absent: none. See README, Signing and payments.',
  backchannel_token_delivery_mode: 'CIBA: poll, the only mode (the client polls the token endpoint). Needs the CIBA grant type.',
  frontchannel_logout_uri: "Front-Channel Logout 1.0: the page the broker's logout page loads in an iframe; on the scheme, host and port of a redirect URI.",
  frontchannel_logout_session_required: 'true: that page gets iss and sid in its query, and the ID tokens carry sid.',
  display_name: 'Shown to the person on the broker’s pages, in every language. Default: client_name in the page’s language (client_name#sv, …), then client_name, then client_id; for a client anyone registered (registered_openly), with the hosts its redirect_uris lead to.',
  allowed_eids: 'The eIDs this client may use, by id. Absent: every configured eID.',
  allowed_acr_values: 'The acr values this client may use; others are refused (unauthorized_client) and never offered. Absent: all.',
  default_ui_locales: 'The page language when the authorization request has no ui_locales.',
  return_to_picker:
    'true (default): a person who cancels at an eID, or whose eID fails or is down, comes back to the eID picker to choose again. false: the login ends at once with the OIDC error at the redirect_uri.',
  refresh_tokens_without_consent:
    'true: a refresh token with every authorization code, without offline_access and prompt=consent (the operator registering the client is the consent, OIDC Core §11). Needs the refresh_token grant.',
  resource_server: 'true for a resource server: it may introspect tokens issued to any client. Others introspect only their own tokens.',
  registered_openly:
    "true: the client was registered with no initial access token (open registration), so anyone may have registered it. Its error answers, and a logout that asked the person nothing, stop at a page of the broker's that names where they lead, and go on when the person chooses. Set by the broker; a client cannot set or drop it. The operator may remove it (null) once they trust the client, or set it.",
};

/** A field given in a page language (OpenID Connect Dynamic Client Registration 1.0 §2.1). */
const taggedDescription = (field: string, locale: Locale) =>
  `${field} in the language ${locale} (OpenID Connect Registration §2.1): the broker's pages in that language show it instead of ${field}, held to the same rules. Fields in the languages of the broker's pages only (${supportedLocales.join(', ')}); any tag of ${subtagsOf(locale).join(' or ')}, with a region or script too (${locale}-…), is taken and kept under this name; another language is refused.`;

/** /admin/webhooks: the operator's endpoints that receive audit events (README, Webhooks). */
function webhookPaths() {
  const common = { '401': { $ref: '#/components/responses/Unauthorized' }, '503': { $ref: '#/components/responses/Unavailable' } };
  const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  return {
    '/admin/webhooks': {
      get: { operationId: 'listWebhooks', summary: 'Every webhook endpoint, never its secret', responses: { '200': { description: 'The endpoints.', content: json(ref('WebhookList')) }, ...common } },
      post: {
        operationId: 'createWebhook',
        summary: 'Creates an endpoint; its secret is in this answer only',
        requestBody: { required: true, content: json(jsonSchema(webhookRequest)) },
        responses: {
          '201': { description: 'Created.', content: json({ allOf: [ref('Webhook')], properties: { secret: { type: 'string', description: 'Shown in this answer only.' } } }) },
          '400': errorResponse('The request is not valid; the description starts with the field, e.g. "url: must use https …".'),
          '409': errorResponse('The id is taken (webhook_exists).'),
          ...common,
        },
      },
    },
    '/admin/webhooks/{id}': {
      parameters: [idParameter],
      get: { operationId: 'getWebhook', summary: 'One endpoint', responses: { '200': { description: 'The endpoint.', content: json(ref('Webhook')) }, '404': errorResponse('No such endpoint.'), ...common } },
      delete: {
        operationId: 'deleteWebhook',
        summary: 'Deletes an endpoint and drops what is queued for it',
        responses: { '204': { description: 'Deleted.' }, '404': errorResponse('No such endpoint.'), '409': errorResponse('It comes from the configuration file (read_only_webhook).'), ...common },
      },
    },
  };
}

function jsonSchema(schema: ZodType, description?: string): JsonSchema {
  // The document's dialect is JSON Schema 2020-12 already (OpenAPI 3.1), so each schema drops its own $schema.
  const generated = z.toJSONSchema(schema, { unrepresentable: 'any' }) as JsonSchema;
  delete generated.$schema;
  return description ? { description, ...generated } : generated;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });

export function openApiDocument(rules: ClientRules): JsonSchema {
  const eidFieldDescription = (name: string) => `Read by the ${rules.eidFields.get(name)?.eid} eID.`;
  const fields: Record<string, JsonSchema> = {
    ...Object.fromEntries(Object.entries(oidcFields).map(([name, schema]) => [name, jsonSchema(schema, descriptions[name])])),
    ...Object.fromEntries(Object.entries(coreFields).map(([name, schema]) => [name, jsonSchema(schema, descriptions[name])])),
    ...Object.fromEntries(TAGGED_FIELDS.map(({ name, field, locale }) => [name, jsonSchema(taggedFields[name]!, taggedDescription(field, locale))])),
    ...Object.fromEntries([...rules.eidFields].map(([name, field]) => [name, jsonSchema(field.schema, eidFieldDescription(name))])),
  };
  const clientId = jsonSchema(clientIdSchema, descriptions.client_id);
  const nullable = Object.fromEntries(Object.entries(fields).map(([name, schema]) => [name, requiredFields.has(name) ? schema : { anyOf: [schema, { type: 'null' }] }]));
  const clientIdParameter = {
    name: 'client_id',
    in: 'path',
    required: true,
    schema: { type: 'string' },
  };
  const clientErrors = {
    '401': { $ref: '#/components/responses/Unauthorized' },
    '404': errorResponse('There is no such client.'),
    '503': { $ref: '#/components/responses/Unavailable' },
  };
  const readOnly = errorResponse(
    'The client comes from the configuration file (error read_only_client): change it there. Or another change to it is under way (error client_busy): try again once it is done.',
  );
  const invalidMetadata = errorResponse(
    'The metadata is not valid: invalid_client_metadata, or invalid_redirect_uri for redirect_uris. The description starts with the field, e.g. "logo_uri: must be an https URL".',
  );

  return {
    openapi: '3.1.0',
    info: {
      title: 'Nordic eID Broker admin API',
      version: '1.0.0',
      description:
        'Manages the relying parties (clients) of the broker. Every request but this document needs the admin token (admin.token) as a bearer token; without admin.token the API is off and answers 404. Errors are {error, error_description}. Clients of the configuration file (source static) are listed and shown but read-only. Secrets are generated by the broker and shown only in the answer that created or rotated them.',
    },
    security: [{ adminToken: [] }],
    paths: {
      ...webhookPaths(),
      '/admin/eids/{eid}/evidence/{transaction_id}': {
        parameters: [
          { name: 'eid', in: 'path', required: true, description: 'The eID, e.g. se-bankid.', schema: { type: 'string' } },
          { name: 'transaction_id', in: 'path', required: true, description: "The eID's transaction id (BankID's orderRef).", schema: { type: 'string' } },
        ],
        get: {
          operationId: 'getEvidence',
          summary: "The evidence an eID keeps of a completed transaction (BankID: signature, OCSP response, device, risk), while its evidence_ttl lasts",
          responses: {
            '200': { description: 'The evidence, as the tokens carried it.', content: json({ type: 'object' }) },
            '401': { $ref: '#/components/responses/Unauthorized' },
            '404': errorResponse('No such eID, the eID keeps no evidence, or none for this transaction (never kept, or past evidence_ttl).'),
            '503': { $ref: '#/components/responses/Unavailable' },
          },
        },
      },
      '/admin/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          summary: 'This document',
          security: [],
          responses: { '200': { description: 'The OpenAPI document.', content: json({ type: 'object' }) } },
        },
      },
      '/admin/clients': {
        get: {
          operationId: 'listClients',
          summary: 'List clients, static and registered, in client_id order',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
            { name: 'cursor', in: 'query', description: 'next_cursor of the previous page.', schema: { type: 'string' } },
          ],
          responses: {
            '200': { description: 'One page of clients.', content: json(ref('ClientList')) },
            '400': errorResponse('A query parameter is not valid.'),
            '401': { $ref: '#/components/responses/Unauthorized' },
            '503': { $ref: '#/components/responses/Unavailable' },
          },
        },
        post: {
          operationId: 'createClient',
          summary: 'Create a client; its secret, when it has one, is in this answer only',
          requestBody: { required: true, content: json(ref('ClientCreate')) },
          responses: {
            '201': {
              description: 'The client, with client_secret when it authenticates with one.',
              headers: { Location: { schema: { type: 'string' } } },
              content: json(ref('ClientWithSecret')),
            },
            '400': invalidMetadata,
            '401': { $ref: '#/components/responses/Unauthorized' },
            '409': errorResponse('The client_id is taken, or was used by a deleted client (error client_exists).'),
            '415': errorResponse('The body is not JSON.'),
            '503': { $ref: '#/components/responses/Unavailable' },
          },
        },
      },
      '/admin/clients/{client_id}': {
        parameters: [clientIdParameter],
        get: {
          operationId: 'getClient',
          summary: 'Read a client (never its secret)',
          responses: { '200': { description: 'The client.', content: json(ref('Client')) }, ...clientErrors },
        },
        put: {
          operationId: 'replaceClient',
          summary: 'Replace a client’s metadata; the secret stays unless the client stops needing one',
          requestBody: { required: true, content: json(ref('ClientCreate')) },
          responses: {
            '200': { description: 'The client; client_secret only when a new one was issued.', content: json(ref('ClientWithSecret')) },
            '400': invalidMetadata,
            ...clientErrors,
            '409': readOnly,
          },
        },
        patch: {
          operationId: 'updateClient',
          summary: 'Change some fields of a client (JSON merge patch: null removes a field)',
          // RFC 7396's own media type, or plain JSON: the same merge patch.
          requestBody: { required: true, content: { ...json(ref('ClientPatch')), 'application/merge-patch+json': { schema: ref('ClientPatch') } } },
          responses: {
            '200': { description: 'The client; client_secret only when a new one was issued.', content: json(ref('ClientWithSecret')) },
            '400': invalidMetadata,
            ...clientErrors,
            '409': readOnly,
          },
        },
        delete: {
          operationId: 'deleteClient',
          summary: 'Delete a client; its id is never given to another',
          responses: { '204': { description: 'Deleted.' }, ...clientErrors, '409': readOnly },
        },
      },
      '/admin/clients/{client_id}/rotate-secret': {
        parameters: [clientIdParameter],
        post: {
          operationId: 'rotateClientSecret',
          summary: 'Replace a client’s secret; the old one stops working at once',
          responses: {
            '200': { description: 'The new secret, shown this once.', content: json(ref('RotatedSecret')) },
            '400': errorResponse('The client is public: it has no secret.'),
            ...clientErrors,
            '409': readOnly,
          },
        },
      },
      '/admin/initial-access-tokens': {
        post: {
          operationId: 'createInitialAccessToken',
          summary: 'Issue an initial access token for dynamic registration (registration.initial_access_token: true)',
          requestBody: { required: false, content: json(ref('InitialAccessTokenRequest')) },
          responses: {
            '201': { description: 'The token, shown this once.', content: json(ref('InitialAccessToken')) },
            '400': errorResponse('The request is not valid.'),
            '401': { $ref: '#/components/responses/Unauthorized' },
            '409': errorResponse('Registration is off, or uses a static initial access token (error registration_disabled).'),
            '503': { $ref: '#/components/responses/Unavailable' },
          },
        },
      },
      '/admin/initial-access-tokens/revoke': {
        post: {
          operationId: 'revokeInitialAccessToken',
          summary: 'Revoke an initial access token',
          requestBody: {
            required: true,
            content: json({ type: 'object', required: ['initial_access_token'], properties: { initial_access_token: { type: 'string' } }, additionalProperties: false }),
          },
          responses: {
            '204': { description: 'Revoked.' },
            '400': errorResponse('The request is not valid.'),
            '401': { $ref: '#/components/responses/Unauthorized' },
            '404': errorResponse('No such token.'),
            '409': errorResponse('Registration does not use tokens the broker issues.'),
          },
        },
      },
    },
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'admin.token from the configuration.' },
      },
      responses: {
        Unauthorized: {
          description: 'No admin token, or a wrong one (error invalid_token).',
          headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
          content: json(ref('Error')),
        },
        Unavailable: {
          description: 'The state store cannot be reached (error temporarily_unavailable).',
          headers: { 'Retry-After': { schema: { type: 'integer' } } },
          content: json(ref('Error')),
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'error_description'],
          properties: { error: { type: 'string' }, error_description: { type: 'string' } },
        },
        ClientCreate: {
          type: 'object',
          required: ['redirect_uris'],
          properties: { client_id: clientId, ...fields },
          additionalProperties: false,
        },
        ClientPatch: {
          type: 'object',
          properties: { client_id: clientId, ...nullable },
          additionalProperties: false,
        },
        ClientFields: {
          type: 'object',
          required: ['client_id', 'redirect_uris', 'source'],
          properties: {
            client_id: { type: 'string', description: descriptions.client_id },
            client_id_issued_at: { type: 'integer', description: descriptions.client_id_issued_at },
            ...fields,
            source: {
              enum: ['static', 'dynamic'],
              description: 'static: from the configuration file, read-only here. dynamic: created through this API or dynamic registration.',
            },
          },
        },
        Client: { allOf: [ref('ClientFields')], unevaluatedProperties: false },
        ClientWithSecret: {
          allOf: [ref('ClientFields')],
          properties: { client_secret: { type: 'string', description: 'Shown in this answer only.' } },
          unevaluatedProperties: false,
        },
        ClientList: {
          type: 'object',
          required: ['clients'],
          properties: {
            clients: { type: 'array', items: ref('Client') },
            next_cursor: { type: 'string', description: 'Present when there may be more: pass it as cursor.' },
          },
          additionalProperties: false,
        },
        RotatedSecret: {
          type: 'object',
          required: ['client_id', 'client_secret'],
          properties: { client_id: { type: 'string' }, client_secret: { type: 'string' } },
          additionalProperties: false,
        },
        Webhook: {
          type: 'object',
          required: ['id', 'url', 'events', 'source'],
          properties: {
            id: { type: 'string' },
            url: { type: 'string' },
            events: { type: 'array', items: { type: 'string' } },
            source: { enum: ['static', 'dynamic'], description: 'static: from the configuration file, read-only here.' },
          },
        },
        WebhookList: { type: 'object', required: ['webhooks'], properties: { webhooks: { type: 'array', items: ref('Webhook') } }, additionalProperties: false },
        InitialAccessTokenRequest: {
          type: 'object',
          properties: {
            expires_in: { type: 'integer', minimum: 60, maximum: 2592000, description: 'Seconds. Default: registration.initial_access_token_expires_in (86400).' },
            max_uses: { type: 'integer', minimum: 1, maximum: 10000, description: 'Registrations it is good for. Default: registration.initial_access_token_max_uses (1).' },
          },
          additionalProperties: false,
        },
        InitialAccessToken: {
          type: 'object',
          required: ['initial_access_token', 'expires_at', 'max_uses'],
          properties: {
            initial_access_token: { type: 'string', description: 'Send it as the bearer token of a registration request to /reg.' },
            expires_at: { type: 'integer', description: 'Seconds since the epoch.' },
            max_uses: { type: 'integer', description: 'Registrations it is good for; the last one destroys it.' },
          },
          additionalProperties: false,
        },
      },
    },
  };
}
