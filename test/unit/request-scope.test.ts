import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Provider from 'oidc-provider';
import { describe, expect, it } from 'vitest';
import { GridTicker } from '../../src/grid-ticker.js';
import { currentTraceId, outsideRequest, requestScope, traceScope, type ScopedRequest } from '../../src/http/request-scope.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

describe("the request's scope", () => {
  it("is oidc-provider's own: the request the broker scopes is the one oidc-provider finds as Provider.ctx", () => {
    const request = { state: { traceId: '0123456789abcdef' } };
    const seen = requestScope.run(request, () => ({ ctx: (Provider as unknown as { ctx?: object }).ctx, traceId: currentTraceId() }));
    expect(seen.ctx).toBe(request);
    expect(seen.traceId).toBe('0123456789abcdef');
  });
});

/**
 * Whether a request is still held, once served, by the timer `setTimer` set while serving it
 * (a minute away, cleared after the check).
 */
async function heldByTimer(setTimer: (ms: number, callback: () => void) => NodeJS.Timeout): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const served = ((): WeakRef<ScopedRequest> => {
    const request: ScopedRequest = { state: { traceId: 'fedcba9876543210' } };
    requestScope.run(request, () => {
      timer = setTimer(60_000, () => undefined);
    });
    return new WeakRef(request);
  })();
  // A WeakRef keeps its target until the job that made it has ended.
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  const held = served.deref() !== undefined;
  clearTimeout(timer);
  return held;
}

describe('a timer set while serving a request', () => {
  it('holds the request for as long as it waits when set as Node sets it', async () => {
    expect(await heldByTimer((ms, callback) => setTimeout(callback, ms))).toBe(true);
  });

  it('holds nothing of it when unscoped (a waiting page\'s stream, ended at its login\'s expiry)', async () => {
    expect(await heldByTimer((ms, callback) => outsideRequest(() => setTimeout(callback, ms)))).toBe(false);
  });

  it('holds nothing of it but its traceId when set for its own login (traceScope): what it runs logs under that traceId', async () => {
    expect(await heldByTimer((ms, callback) => traceScope()(() => setTimeout(callback, ms)))).toBe(false);
    const seen = await new Promise<string | undefined>((resolve) => {
      requestScope.run({ state: { traceId: '0f0f0f0f0f0f0f0f' } }, () => traceScope()(() => setTimeout(() => resolve(currentTraceId()), 1)));
    });
    expect(seen).toBe('0f0f0f0f0f0f0f0f');
  });
});

describe('a ticker started while serving a request', () => {
  it("ticks outside it: the work of its ticks, for every login, logs no request's traceId", async () => {
    const seen: Array<string | undefined> = [];
    let ticked!: () => void;
    const ticks = new Promise<void>((resolve) => (ticked = resolve));
    const ticker = new GridTicker(10, () => {
      seen.push(currentTraceId());
      if (seen.length === 3) ticked();
    });
    requestScope.run({ state: { traceId: '00112233aabbccdd' } }, () => ticker.start());
    await ticks;
    ticker.stop();
    expect(seen).toEqual([undefined, undefined, undefined]);
  });
});
