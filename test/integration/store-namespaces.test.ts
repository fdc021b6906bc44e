import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EidPluginFactory } from '../../src/eids/plugin.js';
import { storeKey } from '../../src/store/keys.js';
import type { Store } from '../../src/store/store.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';
import { redisUrl } from '../support/redis.js';
import { testDoubleEid, type TestDoubleConfig } from '../support/test-double-eid.js';

/** The store each plugin was handed when the broker started it, by plugin id. */
const handed = new Map<string, Store>();
/** The test double, keeping the store it is handed so that the test can write through it as the plugin would. */
const keepingItsStore: EidPluginFactory<TestDoubleConfig> = {
  check: (section, context) => testDoubleEid.check(section, context),
  start(context) {
    handed.set(context.id, context.store);
    return testDoubleEid.start(context);
  },
};

let tb: TestBroker;
let redis: Redis;
const first = () => handed.get('test-double')!;
const second = () => handed.get('other-double')!;

beforeAll(async () => {
  tb = await startTestBroker({ eids: { 'test-double': {}, 'other-double': {} } }, 'namespaces', {
    eids: { 'test-double': keepingItsStore, 'other-double': keepingItsStore },
  });
  redis = new Redis(redisUrl);
});
afterAll(async () => {
  await redis.quit();
});

/** Resolves with the messages `store` receives on `channel`, once `count` have come. */
async function listen(store: Store, channel: string, count: number): Promise<{ messages: string[]; done: Promise<void>; stop: () => Promise<void> }> {
  const messages: string[] = [];
  let finish: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const stop = await store.subscribe(channel, (message) => {
    messages.push(message);
    if (messages.length === count) finish();
  });
  return { messages, done, stop };
}

describe("each plugin's own namespace of the store", () => {
  it('two plugins writing the same key name see each their own value, kept under their ids', async () => {
    await first().set('order:1', 'the first plugin', 60);
    await second().set('order:1', 'the second plugin', 60);
    expect(await first().get('order:1')).toEqual({ value: 'the first plugin' });
    expect(await second().get('order:1')).toEqual({ value: 'the second plugin' });
    expect(await redis.exists(`${tb.prefix}test-double:order:1`, `${tb.prefix}other-double:order:1`)).toBe(2);
    expect(await redis.exists(`${tb.prefix}order:1`)).toBe(0);

    await first().delete('order:1');
    expect(await first().get('order:1')).toBeUndefined();
    expect(await second().get('order:1')).toEqual({ value: 'the second plugin' });
  });

  it('keeps their sets, counters and consumes apart too', async () => {
    await first().addToSet('members', 'a', 60);
    await second().addToSet('members', 'b', 60);
    expect(await first().members('members')).toEqual(['a']);
    expect(await second().members('members')).toEqual(['b']);
    expect((await first().increment('count', 60)).count).toBe(1);
    expect((await second().increment('count', 60)).count).toBe(1);
    expect((await first().incrementAll([{ key: 'count' }, { key: 'other' }], 60)).map(({ count }) => count)).toEqual([2, 1]);
    expect((await second().increment('other', 60)).count).toBe(1);
    await first().set('code', 'x', 60);
    await second().set('code', 'y', 60);
    expect(await first().consume('code', 1_700_000_000)).toBe('consumed');
    expect(await second().consume('code', 1_700_000_000)).toBe('consumed');
  });

  it('gives each plugin its own channels: a message published by one never reaches the other', async () => {
    const atFirst = await listen(first(), 'changes', 1);
    const atSecond = await listen(second(), 'changes', 1);
    // The channel's full name is the plugin's namespace and the name it gave.
    const underItsId = await listen(tb.broker.store, 'other-double:changes', 1);
    await second().publish('changes', 'from the second');
    await first().publish('changes', 'from the first');
    await Promise.all([atFirst.done, atSecond.done, underItsId.done]);
    // One subscriber connection delivers in order: had the second's message reached the first, it would be there by now.
    expect(atFirst.messages).toEqual(['from the first']);
    expect(atSecond.messages).toEqual(['from the second']);
    expect(underItsId.messages).toEqual(['from the second']);
    await Promise.all([atFirst.stop(), atSecond.stop(), underItsId.stop()]);
  });

  it("cannot reach a core key: naming one reads and writes the plugin's own", async () => {
    const signingKeys = storeKey('sharedValue', 'signing');
    const core = await tb.broker.store.get(signingKeys);
    expect(core?.value).toContain('"keys"');
    expect(await first().get(signingKeys)).toBeUndefined();

    await first().set(signingKeys, 'forged');
    await first().delete(storeKey('clientIndex'));
    expect(await tb.broker.store.get(signingKeys)).toEqual(core);
    expect(await first().get(signingKeys)).toEqual({ value: 'forged' });
    expect(await redis.exists(`${tb.prefix}test-double:${signingKeys}`)).toBe(1);
  });

  it.each(['oidc', 'webhooks', 'login-outcome'])("refuses a plugin called %s, a namespace of the core's keys, before it starts", async (id) => {
    await expect(startTestBroker({ eids: { [id]: {} } }, 'namespace-refused', { eids: { [id]: keepingItsStore } })).rejects.toThrow(
      `eids.${id}: cannot be a plugin's id: "${id}" names the core's own keys in the store`,
    );
    expect(handed.has(id)).toBe(false);
  });
});
