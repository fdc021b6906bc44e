import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How long oidc-provider's calls to the addresses a client names may take; oidc-provider itself
 * aborts them after 2.5 s.
 */
const TIME_BOX_MS = 3000;

/**
 * The statuses oidc-provider takes as success, by method: a client's document (GET) is a 200;
 * a logout token (POST to backchannel_logout_uri) is delivered with a 200 or a 204, which many
 * web frameworks answer to a POST without a body (Back-Channel Logout 1.0 §2.8).
 */
const SUCCESS: Readonly<Record<string, readonly number[]>> = { GET: [200], POST: [200, 204] };

/**
 * oidc-provider's fetch for the addresses a registering client names and the broker then calls:
 * its documents (sector_identifier_uri, jwks_uri) and its backchannel_logout_uri. A failure — no
 * answer, a refused or reset connection, an address oidc-provider refuses to reach, a status
 * other than a success — is answered only when the whole time box has passed, and with one
 * error, so that neither the answer nor its timing tells an open port from a closed one, or an
 * existing host from a missing one.
 */
export async function timeBoxedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const answerAt = Date.now() + TIME_BOX_MS;
  try {
    const response = await fetch(input, { ...init, signal: AbortSignal.any([AbortSignal.timeout(TIME_BOX_MS), ...(init?.signal ? [init.signal] : [])]) });
    if (SUCCESS[init?.method ?? 'GET']?.includes(response.status)) return response;
    await response.body?.cancel();
  } catch {
    // Every failure is answered the same way, below.
  }
  await sleep(Math.max(0, answerAt - Date.now()));
  throw new Error('the address could not be reached, or did not answer with a success');
}
