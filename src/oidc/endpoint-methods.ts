import type Provider from 'oidc-provider';

const READ = ['HEAD', 'GET'] as const;

/**
 * The methods each endpoint of oidc-provider takes, by its route's name, as oidc-provider 9
 * registers them with the broker's features (GET takes HEAD; OPTIONS where it answers CORS
 * preflights). POST at the authorization and logout endpoints is the broker's own
 * (src/oidc/posted-requests.ts). Endpoints with a parameter in their path are left out: a
 * wrong method there stays a 404.
 */
const METHODS_BY_ROUTE: Readonly<Record<string, readonly string[]>> = {
  authorization: [...READ, 'POST'],
  userinfo: [...READ, 'POST', 'OPTIONS'],
  token: ['POST', 'OPTIONS'],
  jwks: [...READ, 'OPTIONS'],
  registration: ['POST'],
  revocation: ['POST', 'OPTIONS'],
  introspection: ['POST', 'OPTIONS'],
  end_session: [...READ, 'POST'],
  end_session_confirm: ['POST'],
  end_session_success: [...READ],
  pushed_authorization_request: ['POST', 'OPTIONS'],
  backchannel_authentication: ['POST'],
};

/** Both discovery documents: oidc-provider names only the first of them (`discovery`). */
const DISCOVERY_PATHS = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];

/** The path of a route of oidc-provider's; undefined when its feature is off and it has none. */
function pathOf(provider: Provider, route: string): string | undefined {
  try {
    return provider.pathFor(route);
  } catch {
    return undefined;
  }
}

/**
 * Each address at which oidc-provider answers, with the methods it takes there, so that a request
 * with another method gets 405 and an Allow header (RFC 9110 §15.5.6) instead of oidc-provider's
 * silence, which would be a 404: the endpoint is there.
 */
export function providerEndpointMethods(provider: Provider): ReadonlyMap<string, readonly string[]> {
  const methods = new Map<string, readonly string[]>(DISCOVERY_PATHS.map((path) => [path, [...READ, 'OPTIONS']]));
  for (const [route, taken] of Object.entries(METHODS_BY_ROUTE)) {
    const path = pathOf(provider, route);
    if (path) methods.set(path, taken);
  }
  return methods;
}
