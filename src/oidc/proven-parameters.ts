import { registeredOpenly } from '../clients/open-registration.js';

/**
 * Whether the client vouched for one parameter of its authorization request: the parameter came
 * in a request object the client signed (RFC 9101), or in a pushed authorization request
 * (RFC 9126) that the client authenticated or that carried such a signed object. oidc-provider
 * lists those parameters as `trusted`, in the request's context and in its interaction. Anyone
 * can write a plain authorization URL, or push a request for a public client, naming any client:
 * what such a request says was never the client's to vouch for.
 */
export function provenParameter(trusted: readonly string[] | undefined, name: string): boolean {
  return trusted?.includes(name) === true;
}

/**
 * Whether a parameter is vouched for by a client the operator let in: proven (provenParameter) by
 * a client not registered openly. A client anyone registered (registered_openly) is anyone's: a
 * stranger registers one with a single request and then signs or pushes, authenticated as it,
 * whatever they like, a person's number in a login_hint included.
 */
export function provenByKnownClient(trusted: readonly string[] | undefined, name: string, clientMetadata: Readonly<Record<string, unknown>>): boolean {
  return provenParameter(trusted, name) && !registeredOpenly(clientMetadata);
}
