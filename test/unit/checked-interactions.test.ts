import type Provider from 'oidc-provider';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CheckedInteractions } from '../../src/login/checked-interactions.js';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** An interaction as far as the copies look at it: its uid and when it expires (epoch seconds). */
const interaction = (uid: string, expiresInSeconds = 600) => ({ uid, exp: Math.floor(Date.now() / 1000) + expiresInSeconds }) as unknown as Interaction;

describe('the interactions an instance keeps checked', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  it('gives a copy back for half a minute, then no more', () => {
    const checked = new CheckedInteractions();
    checked.keepChecked(interaction('a'));
    vi.advanceTimersByTime(29_000);
    expect(checked.get('a')?.uid).toBe('a');
    vi.advanceTimersByTime(1_000);
    expect(checked.get('a')).toBeUndefined();
  });

  it('lets go of expired copies that nobody asks for again (logins waiting on a stream)', () => {
    const checked = new CheckedInteractions();
    for (let i = 0; i < 1_000; i += 1) checked.keepChecked(interaction(`old-${i}`));
    vi.advanceTimersByTime(20_000);
    checked.keepChecked(interaction('recent'));
    vi.advanceTimersByTime(11_000);
    expect(checked.size).toBe(1);
    vi.advanceTimersByTime(20_000);
    expect(checked.size).toBe(0);
  });

  it('lets go of a copy when its interaction expires, even within the half minute', () => {
    const checked = new CheckedInteractions();
    checked.keepChecked(interaction('short', 5));
    vi.advanceTimersByTime(5_000);
    expect(checked.get('short')).toBeUndefined();
  });
});
