import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { currentRequest } from './current-request.js';

type LoginInteraction = InstanceType<Provider['Interaction']>;

/**
 * Whether the client a login is for is still there, with the login's redirect_uri still
 * registered: whether an answer may still go to that address.
 */
export async function redirectStillRegistered(provider: Provider, interaction: LoginInteraction): Promise<boolean> {
  const { client_id: clientId, redirect_uri: redirectUri } = interaction.params as { client_id?: unknown; redirect_uri?: unknown };
  if (typeof clientId !== 'string' || typeof redirectUri !== 'string') return false;
  const client = await provider.Client.find(clientId).catch(() => undefined);
  return client?.redirectUriAllowed(redirectUri) ?? false;
}

/**
 * On the return from a login, the redirect_uri must still be one the client has registered,
 * whatever the login's result: a code, an eID's failure, the person's cancel. oidc-provider
 * checks the address when the request comes in and takes that check as done when the login
 * returns, minutes later; an operator who removed the address meanwhile (admin API, a new
 * registration) would see the answer sent there all the same.
 *
 * It is decided where oidc-provider's return (resume) reads the login's interaction, before it
 * marks the address as checked: the answer is then the error page of an unregistered
 * redirect_uri, never a redirect, since the address can no longer be trusted.
 */
export function returnsOnlyToRegisteredRedirects(provider: Provider): void {
  const { Interaction } = provider;
  const find = Interaction.find.bind(Interaction);
  Interaction.find = async function findInteraction(id: string) {
    const interaction = (await find(id)) as LoginInteraction | undefined;
    const returning = (currentRequest() as KoaContextWithOIDC | undefined)?.oidc?.route === 'resume';
    if (returning && interaction?.result && !(await redirectStillRegistered(provider, interaction))) {
      throw new errors.InvalidRedirectUri();
    }
    return interaction;
  } as typeof Interaction.find;
}
