import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { Sealer, sealedStore } from '../../src/store/sealed-store.js';

const sealer = new Sealer(['a-store-encryption-key-of-the-sealed-store-test']);

describe('the sealed store', () => {
  it('writes the keys it seals encrypted and reads them in clear; other keys pass as they are', async () => {
    const inner = createMemoryStore();
    const store = sealedStore(inner, sealer, [{ prefix: 'account:' }]);
    await store.set('account:one', '{"PersonalNumber":"198503122437"}', 60);
    await store.set('oidc:Grant:one', '{"accountId":"one"}', 60);
    expect((await inner.get('account:one'))?.value).toMatch(/^sealed:/);
    expect(await store.get('account:one')).toEqual({ value: '{"PersonalNumber":"198503122437"}' });
    expect(await store.get('oidc:Grant:one')).toEqual({ value: '{"accountId":"one"}' });
    expect(await store.get('account:none')).toBeUndefined();
    await inner.close();
  });

  it('under a prefix with `holding`, seals only the records it finds personal data in, and reads both kinds', async () => {
    const inner = createMemoryStore();
    const store = sealedStore(inner, sealer, [{ prefix: 'oidc:AccessToken:', holding: (value) => value.includes('"rar":') }]);
    const signed = '{"accountId":"one","rar":[{"type":"sign","text":"I accept"}]}';
    await store.set('oidc:AccessToken:signed', signed, 60);
    await store.set('oidc:AccessToken:plain', '{"accountId":"one"}', 60);
    expect((await inner.get('oidc:AccessToken:signed'))?.value).toMatch(/^sealed:/);
    expect((await inner.get('oidc:AccessToken:plain'))?.value).toBe('{"accountId":"one"}');
    expect(await store.get('oidc:AccessToken:signed')).toEqual({ value: signed });
    expect(await store.get('oidc:AccessToken:plain')).toEqual({ value: '{"accountId":"one"}' });
    await inner.close();
  });

  it("gives the store's own methods bound, the same function each time, called apart from the store too", async () => {
    const inner = createMemoryStore();
    const store = sealedStore(inner, sealer, [{ prefix: 'account:' }]);
    expect(store.addToSet).toBe(store.addToSet);
    const { addToSet, members } = store;
    await addToSet('set:one', 'member', 60);
    expect(await members('set:one')).toEqual(['member']);
    await inner.close();
  });
});
