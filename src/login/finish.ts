import type Provider from 'oidc-provider';
import type { Context } from 'koa';
import type { EidOutcome, EidPlugin } from '../eids/plugin.js';
import { completeIdentity } from '../identity/identity.js';
import type { Logger } from '../log.js';
import type { Accounts } from '../oidc/accounts.js';
import { StoreUnavailableError } from '../store/store.js';

type InteractionResult = Parameters<Provider['interactionResult']>[2];

/**
 * Turns an eID's outcome into the interaction's result. A person becomes a login with a sub
 * and the acr of the method used; a failure becomes the OIDC error the client receives. Anything
 * that goes wrong on the way is a server_error for the client, never a dead end for the person.
 */
export function createFinisher(provider: Provider, accounts: Accounts, log: Logger) {
  async function resultOf(plugin: EidPlugin, outcome: EidOutcome, clientId: string): Promise<InteractionResult> {
    if ('failure' in outcome) {
      log.info({ eid: plugin.id, client_id: clientId, error: outcome.failure.error }, 'eID login failed');
      return { error: outcome.failure.error, error_description: outcome.failure.description };
    }
    try {
      if (!plugin.acrValues.includes(outcome.acr)) throw new Error(`${plugin.id} reported acr ${outcome.acr}, which it does not serve`);
      const sub = await accounts.save(completeIdentity(plugin, outcome.person));
      log.info({ eid: plugin.id, client_id: clientId, acr: outcome.acr, sub }, 'eID login completed');
      return { login: { accountId: sub, acr: outcome.acr, amr: outcome.amr, remember: false } };
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      log.error({ err, eid: plugin.id, client_id: clientId }, 'eID result could not be used');
      return { error: 'server_error', error_description: 'The eID returned a result the broker could not use.' };
    }
  }

  /** Records the result and returns the URL that takes the browser back to the client. */
  return async function finish(ctx: Context, plugin: EidPlugin, outcome: EidOutcome, clientId: string): Promise<string> {
    return provider.interactionResult(ctx.req, ctx.res, await resultOf(plugin, outcome, clientId), {
      mergeWithLastSubmission: false,
    });
  };
}

export type Finisher = ReturnType<typeof createFinisher>;
