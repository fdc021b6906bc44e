import type Provider from 'oidc-provider';
import { errors, type ClientMetadata } from 'oidc-provider';

/** The fields a client's subs are made from, in the order a refusal names the one that changed. */
const SUBJECT_FIELDS = ['subject_type', 'sector_identifier_uri', 'redirect_uris'] as const;

/**
 * What a client's subs are made from: each person's one public sub, or (pairwise) the client's
 * sector, the host of its sector_identifier_uri, else of its redirect URI (OIDC Core 8.1).
 */
function subjectsOf(provider: Provider, metadata: ClientMetadata): string {
  // oidc-provider's own reading of the metadata (as Client.validate makes it), whose types name no constructor.
  const ClientOf = provider.Client as unknown as new (metadata: ClientMetadata) => { subjectType?: string; sectorIdentifier?: string };
  const client = new ClientOf(metadata);
  return client.subjectType === 'pairwise' ? `pairwise subs of the sector ${String(client.sectorIdentifier)}` : 'public subs';
}

/**
 * Refuses an update of a client that would give every person another sub there. The sub is
 * worked out again at each refresh and userinfo request: a refreshed ID token would name another
 * sub than the login's (OIDC Core 12.2 requires the same), userinfo would answer an access token
 * issued before with a sub its ID token does not have (5.3.2: the client must then drop the
 * answer), and the client would take the people it knows for new ones.
 */
export function keepSubjects(provider: Provider, previous: ClientMetadata, next: ClientMetadata): void {
  const before = subjectsOf(provider, previous);
  const after = subjectsOf(provider, next);
  if (before === after) return;
  const field = SUBJECT_FIELDS.find((name) => JSON.stringify(previous[name]) !== JSON.stringify(next[name])) ?? SUBJECT_FIELDS[0];
  throw new errors.InvalidClientMetadata(
    `${field}: this change would give every person another sub at this client (${before}, then ${after}), so that it would no longer know the people already logged in, and their refreshed tokens would name other subs than their logins. Register a new client instead; a pairwise client moving to another host keeps its sector with a sector_identifier_uri on the old host.`,
  );
}
