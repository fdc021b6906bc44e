import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * How long ahead a JWT a client signs for the broker may be valid: a client assertion
 * (private_key_jwt, client_secret_jwt) or a request object (RFC 9101). An hour, as FAPI 2.0
 * bounds request objects; client libraries sign theirs for a minute or a few.
 *
 * oidc-provider keeps each assertion's jti until its exp, to refuse a replay: an assertion valid
 * for ten years kept a record in the store for ten years, one more with every token request. A
 * request object without exp, or with one years ahead, could be replayed for as long from
 * wherever its URL was kept (browser history, logs, a proxy's access log).
 */
export const CLIENT_JWT_MAX_SECONDS = 3600;

/** Leeway for a client's clock running ahead of the broker's. */
const CLOCK_SKEW_SECONDS = 60;

/** A request object's claims that must be there, by route: CIBA Core §7.1.1 asks for more, as oidc-provider's own check did. */
const REQUIRED_CLAIMS: Readonly<Record<string, readonly string[]>> = {
  backchannel_authentication: ['exp', 'iat', 'nbf', 'jti'],
};

/** What is wrong with `exp` (epoch seconds), if anything: missing, or further ahead than allowed. */
function expiryProblem(exp: unknown, what: string): string | undefined {
  if (exp === undefined) return `${what} must say when it expires (exp), at most ${CLIENT_JWT_MAX_SECONDS} seconds ahead`;
  if (typeof exp === 'number' && exp - Date.now() / 1000 > CLIENT_JWT_MAX_SECONDS + CLOCK_SKEW_SECONDS) {
    return `${what} may be valid for at most ${CLIENT_JWT_MAX_SECONDS} seconds: its exp is further ahead`;
  }
  return undefined;
}

/** oidc-provider's check of a client assertion's claims, once its signature is verified. */
const assertClientAssertion: NonNullable<Configuration['assertJwtClientAuthClaimsAndHeader']> = async (_ctx, claims) => {
  const problem = expiryProblem(claims.exp, 'the client_assertion');
  // invalid_client with what to change: the client has proven its key, so the reason is its to know.
  if (problem) throw new errors.CustomOIDCProviderError('invalid_client', problem);
};

/** oidc-provider's check of a request object's claims, before its signature is verified. */
async function assertRequestObject(ctx: KoaContextWithOIDC, claims: Record<string, unknown>): Promise<void> {
  const missing = (REQUIRED_CLAIMS[ctx.oidc.route] ?? []).find((claim) => claims[claim] === undefined);
  if (missing) throw new errors.InvalidRequestObject(`Request Object is missing the '${missing}' claim`);
  const problem = expiryProblem(claims.exp, 'a request object');
  if (problem) throw new errors.InvalidRequestObject(problem);
}

/** The two checks, as oidc-provider's configuration takes them. */
export const clientJwtLifetime = {
  assertJwtClientAuthClaimsAndHeader: assertClientAssertion,
  assertJwtClaimsAndHeader: assertRequestObject,
} as const;
