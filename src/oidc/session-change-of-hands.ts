import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { currentRequest } from './current-request.js';

/**
 * A login that returns for another person than the browser's broker session holds: the broker
 * reuses no login, so the session simply changes hands. Left alone, oidc-provider would first run
 * a scripted logout of the earlier person (their clients told, their tokens revoked); the broker
 * treats the change of hands as a new login, not a logout (README, Logout).
 *
 * It is decided where oidc-provider's return from a login (resume) reads the login's interaction,
 * the browser's session read already: the session as it is now, whether or not it existed when
 * the login began (a second tab opened before the first tab's login made it). The earlier person
 * and their clients leave the session (a logout of it would otherwise send those clients a logout
 * token naming the later person); resume then writes it with the later person.
 */
export function sessionChangesHands(provider: Provider): void {
  const { Interaction } = provider;
  const find = Interaction.find.bind(Interaction);
  Interaction.find = async function findInteraction(id: string) {
    const interaction = (await find(id)) as InstanceType<Provider['Interaction']> | undefined;
    const ctx = currentRequest() as KoaContextWithOIDC | undefined;
    const session = ctx?.oidc?.route === 'resume' ? ctx.oidc.session : undefined;
    const person = interaction?.result?.login?.accountId;
    if (session?.accountId && person && session.accountId !== person) {
      // oidc-provider's session takes no empty accountId: the fields are removed instead.
      delete session.accountId;
      delete session.authorizations;
    }
    return interaction;
  } as typeof Interaction.find;
}
