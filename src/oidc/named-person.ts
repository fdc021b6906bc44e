import { decodeJwt } from 'jose';
import { errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

type Client = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/** The sub a client knows a person (an account) by: pairwise for a client that asked for it. */
export type SubjectOf = (accountId: string, client: Client) => string;

/**
 * The subs a request names the person by: its id_token_hint's, and a sub asked for with a value
 * in the claims parameter. The hint was verified when the request came in; on the return from a
 * login the parameters are those the broker kept for it.
 */
function namedSubjects(ctx: KoaContextWithOIDC): string[] {
  const { params, claims } = ctx.oidc;
  const hint = typeof params?.id_token_hint === 'string' ? decodeJwt(params.id_token_hint).sub : undefined;
  const value: unknown = claims.id_token?.sub?.value;
  return [hint, value].filter((sub): sub is string => typeof sub === 'string');
}

/**
 * OIDC Core §3.1.2.2: a request that names the person (id_token_hint, or a sub asked for by
 * value) gets a code only for that person; for anyone else, login_required at the client.
 * oidc-provider compares the hint only with an earlier session, which the broker never reuses, so
 * the person who logged in was not compared at all; and it meets a sub value that does not match
 * by asking for the login again, which sent the person round the eID without end. On the return
 * from the eID this check decides instead, before any code is issued.
 */
export function namedPersonCheck(subjectOf: SubjectOf) {
  const { Check } = interactionPolicy;
  return new Check('named_person', 'the person who logged in is not the one the client named', 'login_required', (ctx: KoaContextWithOIDC) => {
    const { result, session, client } = ctx.oidc;
    if (!result?.login || !session?.accountId || !client) return Check.NO_NEED_TO_PROMPT;
    const named = namedSubjects(ctx);
    // Most requests name no one: they are spared the (pairwise) sub.
    if (named.length === 0) return Check.NO_NEED_TO_PROMPT;
    const sub = subjectOf(session.accountId, client);
    if (named.every((subject) => subject === sub)) return Check.NO_NEED_TO_PROMPT;
    throw new errors.LoginRequired('the person who logged in is not the one the client named');
  });
}
