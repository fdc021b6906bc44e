import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * On the return from a login, the redirect_uri must still be one the client has registered.
 * oidc-provider checks it when the request comes in and takes that check as done when the login
 * returns, minutes later; an operator who removed the address meanwhile (admin API, a new
 * registration) would see a code sent there all the same. The answer is then the error page of
 * an unregistered redirect_uri, never a redirect: oidc-provider's error page shows it for this
 * error, since the address can no longer be trusted.
 */
export function registeredRedirectCheck() {
  const { Check } = interactionPolicy;
  return new Check('redirect_uri_registered', 'the redirect_uri is no longer registered for the client', 'invalid_redirect_uri', (ctx: KoaContextWithOIDC) => {
    const { result, client, params } = ctx.oidc;
    if (!result || !client || typeof params?.redirect_uri !== 'string') return Check.NO_NEED_TO_PROMPT;
    if (client.redirectUriAllowed(params.redirect_uri)) return Check.NO_NEED_TO_PROMPT;
    throw new errors.InvalidRedirectUri();
  });
}
