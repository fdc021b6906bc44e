import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { respondWithError } from '../http/errors.js';
import { MAX_JSON_DEPTH } from '../http/parameters.js';
import type { Views } from '../http/views.js';

/** V8's error when a recursion runs out of stack; its message is the only mark it has. */
function isStackOverflow(err: Error): boolean {
  return err instanceof RangeError && err.message.includes('Maximum call stack size exceeded');
}

/**
 * A request whose JSON nests thousands of levels deep overflows the stack in oidc-provider's
 * recursive copies of it. The broker checks nesting before oidc-provider reads what it can reach
 * (the query, the claims parameter), but not the request object inside a body a client sends to
 * an endpoint it authenticates at (PAR, CIBA's backchannel): that body is oidc-provider's to
 * read, and the overflow happens before its handler could call back. oidc-provider answers the
 * overflow as its own failure (server_error, 500); it is the client's input, so the answer is
 * replaced by invalid_request. Nothing was stored before the overflow: each endpoint reads its
 * request object before it saves anything.
 */
export function refuseTooDeepInput(provider: Provider, views: Views): void {
  // First among the listeners, so that those after it (the log of server errors) see the answer it gives.
  provider.prependListener('server_error', (ctx: KoaContextWithOIDC, err: Error) => {
    if (!isStackOverflow(err)) return;
    respondWithError(ctx, views, 400, 'invalid_request', `A parameter's JSON is nested more than ${MAX_JSON_DEPTH} levels deep.`);
  });
}
