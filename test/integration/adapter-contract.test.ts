import { afterAll, describe, expect, it } from 'vitest';
import { errors } from 'oidc-provider';
import { createLogger } from '../../src/log.js';
import { StoreAdapter } from '../../src/oidc/adapter.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import type { Store } from '../../src/store/store.js';
import { FormerKeyNames, KeyNames } from '../../src/store/key-names.js';
import { deleteKeysWithPrefix, redisUrl, uniquePrefix } from '../support/redis.js';

const names = new KeyNames('the contract test key names secret');
/** The former records the tests write live a minute: FormerKeyNames with hashed key names begun `agoMs` ago. */
const formerKeysBegun = (agoMs: number) => new FormerKeyNames(Date.now() - agoMs, { RefreshToken: 60, AccessToken: 60, Session: 60 });
const formerKeys = formerKeysBegun(0);

/** oidc-provider's adapter contract, held by the same adapter on either store. */
function adapterContract(name: string, open: () => Promise<Store>) {
  describe(`StoreAdapter on the ${name} store`, () => {
    let store: Store;
    const adapter = (model: string) => new StoreAdapter(model, store, names, { formerKeys });

    it('opens', async () => {
      store = await open();
      await store.ping();
    });
    afterAll(() => store?.close());

    it('finds what it upserted, and nothing after destroy', async () => {
      const grants = adapter('Grant');
      await grants.upsert('g1', { jti: 'g1', accountId: 'a', clientId: 'c' }, 60);
      expect(await grants.find('g1')).toMatchObject({ jti: 'g1', accountId: 'a' });
      await grants.destroy('g1');
      expect(await grants.find('g1')).toBeUndefined();
    });

    it('forgets a record after its expiresIn', async () => {
      const sessions = adapter('Session');
      await sessions.upsert('short', { jti: 'short' }, 1);
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      expect(await sessions.find('short')).toBeUndefined();
    });

    it("keeps a record until its exp by the store's clock, whatever the saving host's clock made of its lifetime", async () => {
      const requests = adapter('BackchannelAuthenticationRequest');
      const now = Math.floor(store.now() / 1000);
      // As a host whose clock runs 20 s ahead saves them: 20 s short, and past its end.
      await requests.upsert('ahead-long', { jti: 'ahead-long', exp: now + 21 }, 1);
      await requests.upsert('ahead-past', { jti: 'ahead-past', exp: now + 2 }, -18);
      expect(await requests.find('ahead-past')).toMatchObject({ jti: 'ahead-past' });
      await new Promise((resolve) => setTimeout(resolve, 3_100));
      expect(await requests.find('ahead-long')).toMatchObject({ jti: 'ahead-long' });
      expect(await requests.find('ahead-past')).toBeUndefined();
      await requests.destroy('ahead-long');
    });

    it('finds sessions by uid, and not once destroyed', async () => {
      const sessions = adapter('Session');
      await sessions.upsert('s1', { jti: 's1', uid: 'uid-1', accountId: 'a' }, 60);
      expect(await sessions.findByUid('uid-1')).toMatchObject({ jti: 's1' });
      await sessions.destroy('s1');
      expect(await sessions.findByUid('uid-1')).toBeUndefined();
      expect(await sessions.findByUid('never-was')).toBeUndefined();
    });

    /** A login's end as oidc-provider writes it: the session read before, under a new id, with the login's client added. */
    const loginEnd = (read: { uid: string; accountId: string; authorizations: object }, id: string, clientId: string) => ({
      ...read,
      jti: id,
      authorizations: { ...read.authorizations, [clientId]: { sid: `sid-${id}` } },
    });

    it("joins the versions of a session that two logins of one person wrote at once: either id reads both logins' clients", async () => {
      const sessions = adapter('Session');
      const before = { uid: 'uid-join', accountId: 'a', authorizations: { earlier: { sid: 'sid-0' } } };
      await sessions.upsert('s0', { jti: 's0', ...before }, 60);
      // Both read s0, then each destroys it and writes its own version.
      for (const [id, clientId] of [['s1', 'one'], ['s2', 'two']] as const) {
        await sessions.destroy('s0');
        await sessions.upsert(id, loginEnd(before, id, clientId), 60);
      }
      for (const id of ['s1', 's2']) {
        expect(await sessions.find(id)).toMatchObject({ jti: 's2', accountId: 'a', authorizations: { earlier: { sid: 'sid-0' }, one: { sid: 'sid-s1' }, two: { sid: 'sid-s2' } } });
      }
      expect(await sessions.findByUid('uid-join')).toMatchObject({ jti: 's2' });
      await sessions.destroy('s2');
      expect(await sessions.find('s1')).toBeUndefined();
    });

    it('joins ten versions written at once into one', async () => {
      const sessions = adapter('Session');
      const before = { uid: 'uid-ten', accountId: 'a', authorizations: {} };
      const ids = Array.from({ length: 10 }, (_, i) => `ten-${i}`);
      await Promise.all(ids.map((id) => sessions.upsert(id, loginEnd(before, id, `client-${id}`), 60)));
      const clients = Object.fromEntries(ids.map((id) => [`client-${id}`, { sid: `sid-${id}` }]));
      for (const id of ids) expect((await sessions.find(id))?.authorizations).toEqual(clients);
    });

    it("never joins another person's version: the later one holds only its own person's clients", async () => {
      const sessions = adapter('Session');
      const before = { uid: 'uid-two-people', authorizations: {} };
      await sessions.upsert('p1', loginEnd({ ...before, accountId: 'first' }, 'p1', 'one'), 60);
      await sessions.upsert('p2', loginEnd({ ...before, accountId: 'second' }, 'p2', 'two'), 60);
      expect(await sessions.find('p1')).toMatchObject({ jti: 'p1', accountId: 'first', authorizations: { one: { sid: 'sid-p1' } } });
      expect(await sessions.find('p2')).toEqual(expect.objectContaining({ jti: 'p2', accountId: 'second', authorizations: { two: { sid: 'sid-p2' } } }));
    });

    it('finds device codes by user code', async () => {
      const codes = adapter('DeviceCode');
      await codes.upsert('d1', { jti: 'd1', userCode: 'ABCD-EFGH' }, 60);
      expect(await codes.findByUserCode('ABCD-EFGH')).toMatchObject({ jti: 'd1' });
    });

    it('marks a consumed record, and refuses every later consume', async () => {
      const codes = adapter('AuthorizationCode');
      await codes.upsert('c1', { jti: 'c1', grantId: 'g-consume' }, 60);
      expect((await codes.find('c1'))?.consumed).toBeUndefined();
      await codes.consume('c1');
      expect((await codes.find('c1'))?.consumed).toEqual(expect.any(Number));
      await expect(codes.consume('c1')).rejects.toBeInstanceOf(errors.InvalidGrant);
    });

    it('lets exactly one of 10 parallel consumes through', async () => {
      const codes = adapter('AuthorizationCode');
      await codes.upsert('race', { jti: 'race', grantId: 'g-race' }, 60);
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => codes.consume('race')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });

    it('refuses a second use of a pushed request_uri as invalid_request', async () => {
      const requests = adapter('PushedAuthorizationRequest');
      await requests.upsert('par', { jti: 'par' }, 60);
      await requests.consume('par');
      await expect(requests.consume('par')).rejects.toBeInstanceOf(errors.InvalidRequest);
    });

    it('destroys an Interaction once: of 10 parallel destroys (resumes of one login), the others are SessionNotFound', async () => {
      const interactions = adapter('Interaction');
      await interactions.upsert('i1', { jti: 'i1' } as never, 60);
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => interactions.destroy('i1')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const refused of results.filter((r) => r.status === 'rejected')) expect(refused.reason).toBeInstanceOf(errors.SessionNotFound);
      expect(await interactions.find('i1')).toBeUndefined();
    });

    it('revokes every token of a grant, across models, and nothing of another grant', async () => {
      await adapter('AccessToken').upsert('at1', { jti: 'at1', grantId: 'g-revoke' }, 60);
      await adapter('RefreshToken').upsert('rt1', { jti: 'rt1', grantId: 'g-revoke' }, 600);
      await adapter('AuthorizationCode').upsert('ac1', { jti: 'ac1', grantId: 'g-revoke' }, 60);
      await adapter('AccessToken').upsert('at2', { jti: 'at2', grantId: 'g-other' }, 60);
      await adapter('AccessToken').revokeByGrantId('g-revoke');
      expect(await adapter('AccessToken').find('at1')).toBeUndefined();
      expect(await adapter('RefreshToken').find('rt1')).toBeUndefined();
      expect(await adapter('AuthorizationCode').find('ac1')).toBeUndefined();
      expect(await adapter('AccessToken').find('at2')).toMatchObject({ jti: 'at2' });
    });

    it("keeps a credential's id out of its key, its grant's index and its record, and gives it back on a read", async () => {
      await adapter('AccessToken').upsert('at-secret', { jti: 'at-secret', grantId: 'g-hashed', accountId: 'a' }, 60);
      expect(await store.get('oidc:AccessToken:at-secret')).toBeUndefined();
      const stored = await store.get(`oidc:AccessToken:${names.of('at-secret')}`);
      expect(stored?.value).not.toContain('at-secret');
      expect((await store.members('oidc:grant:g-hashed')).join()).not.toContain('at-secret');
      expect(await adapter('AccessToken').find('at-secret')).toMatchObject({ jti: 'at-secret', accountId: 'a' });
      await adapter('DeviceCode').upsert('dc-secret', { jti: 'dc-secret', userCode: 'USER-CODE' }, 60);
      expect(await store.get('oidc:DeviceCode:userCode:USER-CODE')).toBeUndefined();
      expect(await adapter('DeviceCode').findByUserCode('USER-CODE')).toMatchObject({ jti: 'dc-secret' });
    });

    it('keeps the ids that are no credential (a Grant) in its key, for what reads them there', async () => {
      await adapter('Grant').upsert('g-named', { jti: 'g-named', accountId: 'a' }, 60);
      expect(await store.get('oidc:Grant:g-named')).toBeDefined();
    });

    /** A record as a broker before hashed key names wrote it: under its id, with the grant's index naming that key. */
    const writtenBefore = async (model: string, id: string, payload: object) => {
      await store.set(`oidc:${model}:${id}`, JSON.stringify({ jti: id, ...payload }), 60);
      if ('grantId' in payload) await store.addToSet(`oidc:grant:${String(payload.grantId)}`, `oidc:${model}:${id}`, 60);
    };

    it('reads, consumes and removes the records a broker before hashed key names wrote under their ids, until they expire', async () => {
      await writtenBefore('RefreshToken', 'old-rt', { grantId: 'g-old', accountId: 'a' });
      expect(await adapter('RefreshToken').find('old-rt')).toMatchObject({ jti: 'old-rt', accountId: 'a' });
      await adapter('RefreshToken').consume('old-rt');
      await expect(adapter('RefreshToken').consume('old-rt')).rejects.toBeInstanceOf(errors.InvalidGrant);
      await writtenBefore('AccessToken', 'old-at', { grantId: 'g-old' });
      await writtenBefore('AccessToken', 'old-at-2', { grantId: 'g-old' });
      await adapter('AccessToken').destroy('old-at');
      expect(await adapter('AccessToken').find('old-at')).toBeUndefined();
      await adapter('AccessToken').revokeByGrantId('g-old');
      expect(await adapter('AccessToken').find('old-at-2')).toBeUndefined();
      await writtenBefore('Session', 'old-session', { uid: 'uid-old', accountId: 'a' });
      await store.set('oidc:Session:uid:uid-old', 'old-session', 60);
      expect(await adapter('Session').findByUid('uid-old')).toMatchObject({ jti: 'old-session', accountId: 'a' });
    });

    it('no longer reads them once their longest lifetime has passed since hashed key names began', async () => {
      const later = (model: string) => new StoreAdapter(model, store, names, { formerKeys: formerKeysBegun(61_000) });
      await writtenBefore('RefreshToken', 'old-rt-later', { grantId: 'g-old-later', accountId: 'a' });
      expect(await later('RefreshToken').find('old-rt-later')).toBeUndefined();
      await expect(later('RefreshToken').consume('old-rt-later')).rejects.toBeInstanceOf(errors.InvalidGrant);
      // Left as it was, to expire: none of it was read or consumed.
      expect((await store.get('oidc:RefreshToken:old-rt-later'))?.consumedAt).toBeUndefined();
      expect(await store.get('oidc:RefreshToken:old-rt-later')).toBeDefined();
    });

    it('keeps records without expiresIn', async () => {
      await adapter('Client').upsert('client-1', { client_id: 'client-1' } as never);
      expect(await adapter('Client').find('client-1')).toMatchObject({ client_id: 'client-1' });
    });
  });
}

adapterContract('memory', async () => createMemoryStore());

const prefix = uniquePrefix('adapter');
adapterContract('Redis', async () => {
  const store = createRedisStore({ url: redisUrl, key_prefix: prefix, command_timeout_ms: 500 }, createLogger('silent'));
  for (let i = 0; i < 50 && !store.available; i += 1) await new Promise((resolve) => setTimeout(resolve, 50));
  return store;
});
afterAll(() => deleteKeysWithPrefix(prefix));
