import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { READ_METHODS as READ, type MethodsAt } from '../http/errors.js';


/** The methods a route of oidc-provider's takes, and the name of its path's parameter if it has one. */
interface RouteMethods {
  methods: readonly string[];
  parameter?: string;
}

/**
 * The methods each endpoint of oidc-provider takes, by its route's name, as oidc-provider 9
 * registers them with the broker's features (GET takes HEAD; OPTIONS where it answers CORS
 * preflights). POST at the authorization and logout endpoints is the broker's own
 * (src/oidc/posted-requests.ts). Routes that share a path (/reg/<client_id>'s reading, update
 * and deletion) add up to that path's methods.
 */
const METHODS_BY_ROUTE: Readonly<Record<string, RouteMethods>> = {
  authorization: { methods: [...READ, 'POST'] },
  resume: { methods: READ, parameter: 'uid' },
  userinfo: { methods: [...READ, 'POST', 'OPTIONS'] },
  token: { methods: ['POST', 'OPTIONS'] },
  jwks: { methods: [...READ, 'OPTIONS'] },
  registration: { methods: ['POST'] },
  client: { methods: READ, parameter: 'clientId' },
  client_update: { methods: ['PUT'], parameter: 'clientId' },
  client_delete: { methods: ['DELETE'], parameter: 'clientId' },
  revocation: { methods: ['POST', 'OPTIONS'] },
  introspection: { methods: ['POST', 'OPTIONS'] },
  end_session: { methods: [...READ, 'POST'] },
  end_session_confirm: { methods: ['POST'] },
  end_session_success: { methods: READ },
  pushed_authorization_request: { methods: ['POST', 'OPTIONS'] },
  backchannel_authentication: { methods: ['POST'] },
};

/** Both discovery documents: oidc-provider names only the first of them (`discovery`). */
export const DISCOVERY_PATHS: readonly string[] = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];

/** What a path parameter is looked up as: where it lands in the path, any one segment matches. */
const PARAMETER_MARK = encodeURIComponent('{parameter}');

/** The path of a route of oidc-provider's, its parameter marked; undefined when its feature is off and it has none. */
function pathOf(provider: Provider, route: string, parameter: string | undefined): string | undefined {
  try {
    return provider.pathFor(route, parameter ? { [parameter]: decodeURIComponent(PARAMETER_MARK) } : {});
  } catch {
    return undefined;
  }
}

/** A whole request path that matches `path`, each of its parameters one segment. */
function patternOf(path: string): RegExp {
  const pieces = path.split(PARAMETER_MARK).map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${pieces.join('[^/]+')}$`);
}

/** One address of one of oidc-provider's routes and the methods it takes there; `pattern` for an address with an id in it (/auth/<uid>). */
export interface RoutePath {
  route: string;
  path: string;
  methods: readonly string[];
  pattern?: RegExp;
}

/** The address of every route of oidc-provider's that is on (both discovery documents under `discovery`). */
export function providerRoutePaths(provider: Provider): RoutePath[] {
  const paths: RoutePath[] = DISCOVERY_PATHS.map((path) => ({ route: 'discovery', path, methods: [...READ, 'OPTIONS'] }));
  for (const [route, { methods, parameter }] of Object.entries(METHODS_BY_ROUTE)) {
    const path = pathOf(provider, route, parameter);
    if (path) paths.push({ route, path, methods, ...(parameter ? { pattern: patternOf(path) } : {}) });
  }
  return paths;
}

/**
 * Each address at which oidc-provider answers, with the methods it takes there, so that a request
 * with another method gets 405 and an Allow header (RFC 9110 §15.5.6) instead of oidc-provider's
 * silence, which would be a 404: the endpoint is there. An address with a parameter (/auth/<uid>)
 * is matched by its pattern.
 */
export function providerEndpointMethods(provider: Provider): MethodsAt {
  const byPath = new Map<string, string[]>();
  for (const { path, methods } of providerRoutePaths(provider)) byPath.set(path, [...(byPath.get(path) ?? []), ...methods]);
  const patterns = [...byPath].map(([path, methods]) => ({ pattern: patternOf(path), methods }));
  return (path) => patterns.find(({ pattern }) => pattern.test(path))?.methods;
}

/**
 * oidc-provider's router takes an endpoint's path whatever the case of its letters and with a
 * slash after it: /AUTH, /Auth/ and /auth/ are its /auth, /TOKEN its /token, /AUTH/<uid> a
 * login's return. Every step of the broker's that knows an endpoint by its path (the rate limits,
 * a form POSTed to /auth sent on as a GET, the page in place of the error answer of a client
 * anyone registered, the logout's steps) knows it as written, and another spelling passed by
 * them all: the error of such a client went straight on to its redirect_uri (an open redirect),
 * requests went uncounted. So a path oidc-provider would take in another spelling is given the
 * endpoint's own before any step reads it (the parameter of /auth/<uid> as sent): every step
 * sees the endpoint oidc-provider answers at.
 */
export function providerPathSpelling(provider: Provider): Middleware {
  const paths = [...new Set(providerRoutePaths(provider).map(({ path }) => path))];
  const exact = new Set(paths.filter((path) => !path.includes(PARAMETER_MARK)));
  // Static paths before those with a parameter, as oidc-provider's router looks them up; its
  // letters compared as its router folds them, which the `i` flag without `u` does the same way
  // (a letter beyond ASCII whose capital is an ASCII one, such as ſ, is no match for it).
  const spellings = [...paths].sort((a, b) => Number(a.includes(PARAMETER_MARK)) - Number(b.includes(PARAMETER_MARK))).map((path) => {
    const pieces = path.split(PARAMETER_MARK);
    const escaped = pieces.map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    return { pattern: new RegExp(`^${escaped.join('([^/]+)')}/?$`, 'i'), pieces };
  });
  return (ctx, next) => {
    const { path } = ctx;
    if (exact.has(path)) return next();
    for (const { pattern, pieces } of spellings) {
      const match = pattern.exec(path);
      if (!match) continue;
      const own = pieces.reduce((written, piece, i) => written + (i > 0 ? match[i]! : '') + piece, '');
      if (own !== path) ctx.path = own;
      break;
    }
    return next();
  };
}
