import { describe, expect, it } from 'vitest';
import { choosingOver, cutShort, loginLifetime } from '../../src/login/lifetime.js';

const ttl = { authorization_code: 60, access_token: 600, id_token: 600, refresh_token: 1_209_600, interaction: 600, eid_extension: 1800, session: 28_800 };
const bankId = { id: 'se-bankid', timeLimitSeconds: 121 };
const upstream = { id: 'no-bankid', timeLimitSeconds: 900 };

describe("a login's lifetime", () => {
  it('is ttl.interaction, and the slowest eID started at its end with a minute to reach the client', () => {
    expect(loginLifetime(ttl, [bankId])).toEqual({ choosing: 600, whole: 600 + 121 + 60 });
    expect(loginLifetime(ttl, [bankId, upstream])).toEqual({ choosing: 600, whole: 600 + 900 + 60 });
  });

  it('never lasts more than ttl.eid_extension past ttl.interaction, which an eID without a time limit gets', () => {
    expect(loginLifetime({ ...ttl, eid_extension: 300 }, [upstream]).whole).toBe(900);
    expect(loginLifetime(ttl, [{}]).whole).toBe(600 + 1800);
    expect(cutShort({ ...ttl, eid_extension: 300 }, [bankId, upstream, { id: 'test-double' }])).toEqual(['no-bankid']);
  });

  it("leaves no time to choose once ttl.interaction from the request has passed, by the interaction's expiry", () => {
    const now = Math.floor(Date.now() / 1000);
    const lifetime = loginLifetime(ttl, [bankId]);
    expect(choosingOver({ exp: now - 599 + lifetime.whole }, lifetime)).toBe(false);
    expect(choosingOver({ exp: now - 600 + lifetime.whole }, lifetime)).toBe(true);
  });
});
