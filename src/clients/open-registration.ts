import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * The broker's mark on a client registered with no initial access token (open registration):
 * anyone may have registered it, with any redirect_uri, name and logo. Its error answers, and a
 * logout that asked the person nothing, stop at a page on the broker's origin
 * (src/oidc/leaving-page.ts), and its pages name it by where it leads as well (localized.ts). It
 * is kept in the client's metadata, where the client can neither give it nor drop it (rules.ts,
 * operatorGrants), and stays when the operator later asks for tokens: how the client came in
 * does not change.
 */
export const REGISTERED_OPENLY = 'registered_openly';

/**
 * Marks a client that /reg is registering (REGISTERED_OPENLY) when registration is `open` (the
 * configuration's registration.initial_access_token is false).
 */
export function markOpenRegistration(ctx: KoaContextWithOIDC | undefined, metadata: Record<string, unknown>, open: boolean): void {
  if (ctx?.oidc.route === 'registration' && open) metadata[REGISTERED_OPENLY] = true;
}

/** Whether a client carries the mark of open registration (REGISTERED_OPENLY). */
export function registeredOpenly(metadata: Readonly<Record<string, unknown>>): boolean {
  return metadata[REGISTERED_OPENLY] === true;
}
