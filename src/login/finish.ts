import type Provider from 'oidc-provider';
import type { AuditLog, LoginInfo } from '../audit/audit.js';
import type { EidOutcome, EidPlugin } from '../eids/plugin.js';
import { completeIdentity } from '../identity/identity.js';
import type { Logger } from '../log.js';
import type { Accounts } from '../oidc/accounts.js';
import { GRANTED_DETAILS, requestedDetails } from '../oidc/authorization-details.js';
import { asErrorDescription } from '../oidc/error-descriptions.js';
import { StoreUnavailableError } from '../store/store.js';

type InteractionResult = Parameters<Provider['interactionResult']>[2];
type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Turns an eID's outcome into the interaction's result. A person becomes a login with a sub
 * and the acr of the method used; a failure becomes the OIDC error the client receives. Anything
 * that goes wrong on the way is a server_error for the client, never a dead end for the person.
 * The ending is audited (EID_100002 completed, EID_100003 failed, EID_100004 cancelled or expired).
 */
export function createFinisher(provider: Provider, accounts: Accounts, log: Logger, audit: AuditLog) {
  async function resultOf(login: LoginInfo & { plugin: EidPlugin }, outcome: EidOutcome, requested: boolean): Promise<InteractionResult> {
    const { plugin } = login;
    if ('failure' in outcome) {
      await audit.loginEnded(login, { failure: outcome.failure });
      return { error: outcome.failure.error, error_description: outcome.failure.description };
    }
    try {
      if (!plugin.acrValues.includes(outcome.acr)) throw new Error(`${plugin.id} reported acr ${outcome.acr}, which it does not serve`);
      // A signature or payment asked for and not made must never become a plain login.
      if (requested !== Boolean(outcome.authorizationDetails?.length)) throw new Error(`${plugin.id} did not grant the authorization_details the login asked for`);
      const identity = completeIdentity(plugin, outcome.person);
      const sub = await accounts.save(identity);
      await audit.loginEnded(login, { identity, sub, acr: outcome.acr });
      const loggedIn = { accountId: sub, acr: outcome.acr, amr: outcome.amr, remember: false };
      return outcome.authorizationDetails ? { login: loggedIn, [GRANTED_DETAILS]: outcome.authorizationDetails } : { login: loggedIn };
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      log.error({ err, eid: plugin.id, client_id: login.clientId }, 'eID result could not be used');
      const failure = { error: 'server_error' as const, description: 'The eID returned a result the broker could not use.' };
      await audit.loginEnded(login, { failure });
      return { error: failure.error, error_description: failure.description };
    }
  }

  /**
   * A browser whose broker session still holds an earlier person: the broker reuses no login,
   * so the session simply changes hands. Left alone, oidc-provider would first run a scripted
   * logout page for the earlier person; the broker treats the change of hands as a new login, not
   * a logout (README, Logout).
   */
  async function releaseEarlierPerson(interaction: Interaction, result: InteractionResult) {
    const earlier = interaction.session;
    if (!earlier?.accountId || !result.login || earlier.accountId === result.login.accountId) return;
    const session = await provider.Session.findByUid(earlier.uid);
    if (!session) return;
    // The interaction keeps a copy of the session's person and must agree with it. The earlier
    // person's clients leave with them: a logout of the session would otherwise send them a
    // logout token naming the later person.
    session.accountId = undefined;
    session.authorizations = undefined;
    delete (earlier as { accountId?: string }).accountId;
    await session.persist();
    await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
  }

  /** Records the result and returns the URL that takes the browser back to the client; `ip` is the person's, for the audit event. */
  return async function finish(ip: string, interaction: Interaction, plugin: EidPlugin, outcome: EidOutcome): Promise<string> {
    const details = requestedDetails(interaction.params);
    const login = { uid: interaction.uid, clientId: String(interaction.params.client_id), ip, plugin, ...(details ? { transactionType: details[0]!.type } : {}) };
    const result = await resultOf(login, outcome, details !== undefined);
    await releaseEarlierPerson(interaction, result);
    return recordResult(interaction, result);
  };
}

/**
 * An error's description as the client receives it at its redirect_uri, in the characters RFC 6749
 * §4.1.2.1 allows there: it may name what the request sent (an unknown acr value), which may hold
 * any character.
 */
function withSafeDescription(result: InteractionResult): InteractionResult {
  const description: unknown = result.error_description;
  return typeof description === 'string' ? { ...result, error_description: asErrorDescription(description) } : result;
}

/**
 * Ends the interaction with `result` and returns the URL that takes the browser back to the
 * client: what provider.interactionResult does (without merging earlier submissions), on the
 * interaction this request has already read and checked, rather than reading it once more.
 */
export async function recordResult(interaction: Interaction, result: InteractionResult): Promise<string> {
  interaction.result = withSafeDescription(result);
  await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
  return interaction.returnTo;
}

export type Finisher = ReturnType<typeof createFinisher>;
