import { errors, type AuthorizationDetail, type Configuration, type KoaContextWithOIDC, type AuthorizationDetailsForIntrospection, type RichAuthorizationRequestsActiveConfiguration } from 'oidc-provider';
import type { ZodType } from 'zod';
import { asErrorDescription } from './error-descriptions.js';
import { provenParameter } from './proven-parameters.js';

/**
 * Rich Authorization Requests (RFC 9396) for what an eID does besides logging in: signing a text,
 * approving a payment, showing a message with a login. The eIDs declare the `authorization_details`
 * types they serve, each with a strict schema (`EidPlugin.authorizationDetailsTypes`); this module
 * is the eID-neutral part: it checks requests against those schemas, keeps the details out of
 * plain URLs, and carries what the eID returns (the details as granted, with its evidence) into
 * the code, the token response and the ID token.
 */

/** The schemas of each type, from every eID that declares it (a detail is valid when one accepts it). */
export type AuthorizationDetailsTypes = ReadonlyMap<string, readonly ZodType[]>;

/**
 * The resource every request with authorization_details is for. oidc-provider asks for one with
 * RAR; the broker has no resource servers, so it is a name only: the access token stays the
 * userinfo token it always is, and the details travel in the token response and the ID token.
 */
export const TRANSACTION_RESOURCE = 'urn:nordic-eid:transaction';

/** The interaction result's field in which the core hands oidc-provider the details an eID granted. */
export const GRANTED_DETAILS = 'authorization_details';

/** Where the details of a login's request are read from: the parameter as oidc-provider keeps it. */
export function requestedDetails(params: Record<string, unknown>): AuthorizationDetail[] | undefined {
  const raw = params.authorization_details;
  if (raw === undefined) return undefined;
  const parsed = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  return Array.isArray(parsed) && parsed.length > 0 ? (parsed as AuthorizationDetail[]) : undefined;
}

/**
 * Details may come only over a back channel or with integrity: in a pushed authorization request
 * (RFC 9126), in a signed request object (RFC 9101), or at the token and backchannel endpoints.
 * In a plain authorization URL the text would land in browser history and server logs, and
 * anything on the way could change it (RFC 9396 §12, §13).
 */
function refusePlainUrl(ctx: KoaContextWithOIDC): void {
  if (ctx.oidc.route !== 'authorization') return;
  const pushed = 'PushedAuthorizationRequest' in ctx.oidc.entities;
  if (!pushed && !provenParameter(ctx.oidc.trusted, 'authorization_details')) {
    throw new errors.InvalidRequest(
      'authorization_details are accepted only in a pushed authorization request (PAR) or a signed request object, never in a plain authorization URL',
    );
  }
}

/**
 * A token request may not bring details of its own (RFC 9396 §6 lets the server refuse them): a
 * code, a refresh token or a CIBA request carries what the eID granted. oidc-provider checks the
 * parameter before the grant consumes the code; refused any later, the code — and the signature
 * it carries — would be gone with the error, and the client could not redeem it once corrected.
 */
function refuseInTokenRequest(ctx: KoaContextWithOIDC): void {
  if (ctx.oidc.route === 'token') {
    throw new errors.InvalidAuthorizationDetails('authorization_details are granted at the authorization endpoint and cannot be changed in a token request');
  }
}

/** The first problem a type's schemas find with `detail`, in plain words; undefined when one accepts it. */
function problemWith(detail: AuthorizationDetail, schemas: readonly ZodType[]): string | undefined {
  let first: string | undefined;
  for (const schema of schemas) {
    const result = schema.safeParse(detail);
    if (result.success) return undefined;
    if (first === undefined) {
      const issue = result.error.issues[0]!;
      const path = issue.path.length ? issue.path.join('.') : 'the entry';
      first = asErrorDescription(`${path}: ${issue.message}`);
    }
  }
  return first;
}

/**
 * Every check of one entry. oidc-provider runs it more than once per login (at PAR, again when
 * the request_uri is used, again when resuming), so it only checks: it never starts anything.
 */
function validator(schemas: readonly ZodType[]) {
  return (ctx: KoaContextWithOIDC, detail: AuthorizationDetail) => {
    refusePlainUrl(ctx);
    refuseInTokenRequest(ctx);
    const all = requestedDetails(ctx.oidc.params ?? {}) ?? [];
    // One eID transaction per login: a person signs one text or approves one payment at a time.
    if (all.length > 1) throw new errors.InvalidAuthorizationDetails('only one authorization_details entry may be sent per request');
    const problem = problemWith(detail, schemas);
    if (problem) throw new errors.InvalidAuthorizationDetails(`authorization_details of type ${detail.type}: ${problem}`);
  };
}

type ResourceFeature = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>;

/**
 * oidc-provider's RAR feature for the declared types. A code carries exactly the details the eID
 * granted in this login (the interaction result), never those of an earlier grant; tokens carry
 * the code's; a token request may not bring details of its own (refuseInTokenRequest).
 */
export function richAuthorizationRequests(
  types: AuthorizationDetailsTypes,
): RichAuthorizationRequestsActiveConfiguration & { authorizationDetailsForIntrospection: AuthorizationDetailsForIntrospection } {
  return {
    enabled: types.size > 0,
    types: Object.fromEntries([...types].map(([type, schemas]) => [type, { validate: validator(schemas) }])),
    authorizationDetailsForGrantSource: (ctx) => (ctx.oidc.result?.[GRANTED_DETAILS] as AuthorizationDetail[] | undefined) ?? undefined,
    authorizationDetailsForAccessToken: (_ctx, _token, source) => source?.rar,
    authorizationDetailsForIntrospection: (_ctx, token) => token.rar,
  };
}

/** Resource indicators only as far as RAR needs them: the one transaction resource, and nothing else. */
export function transactionResource(): ResourceFeature {
  return {
    enabled: true,
    // At the token endpoint oidc-provider asks again with the resources granted (oneOf): those stand.
    defaultResource: (ctx, _client, oneOf) => oneOf ?? (ctx.oidc.params?.authorization_details ? TRANSACTION_RESOURCE : undefined),
    useGrantedResource: () => false,
    getResourceServerInfo(_ctx, resource) {
      if (resource !== TRANSACTION_RESOURCE) throw new errors.InvalidTarget('the broker serves no resource servers: leave out the resource parameter');
      return { scope: '', accessTokenFormat: 'opaque' };
    },
  };
}
