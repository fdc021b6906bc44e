import Provider from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { currentTraceId, requestScope } from '../../src/http/request-scope.js';

describe("the request's scope", () => {
  it("is oidc-provider's own: the request the broker scopes is the one oidc-provider finds as Provider.ctx", () => {
    const request = { state: { traceId: '0123456789abcdef' } };
    const seen = requestScope.run(request, () => ({ ctx: (Provider as unknown as { ctx?: object }).ctx, traceId: currentTraceId() }));
    expect(seen.ctx).toBe(request);
    expect(seen.traceId).toBe('0123456789abcdef');
  });
});
