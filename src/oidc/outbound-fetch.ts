import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How long oidc-provider's calls to a client's documents (sector_identifier_uri, jwks_uri) may
 * take; oidc-provider itself aborts them after 2.5 s.
 */
const TIME_BOX_MS = 3000;

/**
 * oidc-provider's fetch for a client's documents, which a registering client names and the
 * broker then fetches. A failure — no answer, a refused or reset connection, an address
 * oidc-provider refuses to reach, a status other than 200 — is answered only when the whole
 * time box has passed, and with one error, so that neither the answer nor its timing tells an
 * open port from a closed one, or an existing host from a missing one.
 */
export async function timeBoxedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const answerAt = Date.now() + TIME_BOX_MS;
  try {
    const response = await fetch(input, { ...init, signal: AbortSignal.any([AbortSignal.timeout(TIME_BOX_MS), ...(init?.signal ? [init.signal] : [])]) });
    if (response.status === 200) return response;
    await response.body?.cancel();
  } catch {
    // Every failure is answered the same way, below.
  }
  await sleep(Math.max(0, answerAt - Date.now()));
  throw new Error('the document could not be fetched');
}
