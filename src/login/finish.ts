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
export function createFinisher(accounts: Accounts, log: Logger, audit: AuditLog) {
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

  /** Records the result and returns the URL that takes the browser back to the client; `ip` is the person's, for the audit event. */
  return async function finish(ip: string, interaction: Interaction, plugin: EidPlugin, outcome: EidOutcome): Promise<string> {
    const details = requestedDetails(interaction.params);
    const login = { uid: interaction.uid, clientId: String(interaction.params.client_id), ip, plugin, ...(details ? { transactionType: details[0]!.type } : {}) };
    return recordResult(interaction, await resultOf(login, outcome, details !== undefined));
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
