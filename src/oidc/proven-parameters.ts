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
