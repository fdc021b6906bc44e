import { errors } from 'oidc-provider';
import { unknownName } from '../config/issues.js';
import { clientSchema, type ClientConfig } from '../config/schema.js';
import { foldLanguageTags, isTaggedField } from './localized.js';
import { inPageLanguages, type ClientRules } from './rules.js';

/**
 * Static clients: those of the configuration file. They are read-only at runtime (the admin
 * API and registration management refuse to change them) and are checked at start-up, so a
 * client that breaks a rule stops the broker before anything listens.
 */

/** Keys of a configured client the configuration schema itself defines. */
const configKeys = new Set(Object.keys(clientSchema.shape));

/** Optional keys of a configured client that go to oidc-provider as they are, when set. */
const passedThrough = [
  'client_name',
  'logo_uri',
  'policy_uri',
  'tos_uri',
  'client_uri',
  'default_ui_locales',
  'allowed_acr_values',
  'return_to_picker',
  'refresh_tokens_without_consent',
  'userinfo_signed_response_alg',
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  'frontchannel_logout_uri',
  'frontchannel_logout_session_required',
  'backchannel_token_delivery_mode',
  'require_pushed_authorization_requests',
] as const satisfies ReadonlyArray<keyof ClientConfig>;

/** The metadata a configured client carries beyond OIDC's and the fields clientMetadata() maps one by one. */
export function extraMetadataOf(client: ClientConfig): Record<string, unknown> {
  // An eID's fields, and those given in a page language (client_name#sv, client_name#sv-SE, kept
  // as client_name#sv): checked by the rules.
  const declared = Object.entries(client).filter(([key]) => !configKeys.has(key));
  const set = passedThrough.filter((key) => client[key] !== undefined);
  return { ...Object.fromEntries(set.map((key) => [key, client[key]])), ...foldLanguageTags(Object.fromEntries(declared)) };
}

/**
 * The first problem of a configured client, named by its field (`redirect_uris[0]: must use
 * https …`), or undefined: a key no configured eID declares, a rule every client keeps
 * (src/clients/rules.ts, with the fields given in a page language), or an eID or acr value this
 * broker does not have. `metadata` is the client as oidc-provider is given it (clientMetadata):
 * checked before any eID starts, so that a bad client is named with the other problems of the
 * configuration. oidc-provider's own checks follow when it first builds the client.
 *
 * Without `everyEid` (an eID's section did not pass its check, so what it declares is not known),
 * neither the keys eIDs declare nor the eIDs and acr values the client names are checked: they
 * would be refused for the eID's problem, not the client's.
 */
export function staticClientProblem(client: ClientConfig, metadata: Record<string, unknown>, rules: ClientRules, everyEid = true): string | undefined {
  const unknown = Object.keys(client).find((key) => !configKeys.has(key) && !rules.eidFields.has(key) && !isTaggedField(key));
  if (unknown && everyEid) return `${unknown}: ${unknownName('key', unknown, [...configKeys, ...rules.eidFields.keys()])}`;
  try {
    // The tags the fold leaves out (client_name#sv-AX beside #sv) are held to their field's rules too: oidc-provider never sees them.
    inPageLanguages(client);
    rules.check(metadata, { written: everyEid });
    return undefined;
  } catch (err) {
    if (err instanceof errors.InvalidClientMetadata) return err.error_description;
    throw err;
  }
}
