import type Provider from 'oidc-provider';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** What the client receives when another login of the same pushed request already got its code. */
export const USED_PUSHED_REQUEST = {
  error: 'invalid_request_uri',
  description: 'request_uri was already used: another login of the same pushed authorization request received the code',
} as const;

/**
 * Whether the pushed authorization request (RFC 9126) a login came from has already given a
 * code. oidc-provider takes a request_uri at /auth until one of its logins ends (a reload may open
 * it again, §4), and refuses the others only when they come back; a login opened in a second tab
 * would run its eID for nothing. Read before an eID starts, so that the person is not asked to
 * identify for a login that can only end in this error.
 */
export async function usedPushedRequest(provider: Provider, interaction: Interaction): Promise<boolean> {
  const { parJti } = interaction as Interaction & { parJti?: string };
  if (!parJti) return false;
  const pushed = await provider.PushedAuthorizationRequest.find(parJti, { ignoreExpiration: true });
  return Boolean(pushed?.consumed);
}
