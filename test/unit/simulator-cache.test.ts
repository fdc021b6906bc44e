import { randomBytes } from 'node:crypto';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { simulatorCached, simulatorCacheFolder } from '../../src/eids/simulator-cache.js';

describe("the simulators' keys kept between starts", () => {
  const name = `test-${randomBytes(6).toString('hex')}`;
  const file = () => join(simulatorCacheFolder()!, `${name}.json`);
  const inAMinute = () => Date.now() + 60_000;
  let made = 0;
  const make = async () => ({ key: `secret-${(made += 1)}` });
  afterEach(() => rmSync(file(), { force: true }));

  it('are made once, kept where only their owner can read them, and given back while they last', async () => {
    made = 0;
    const first = await simulatorCached(name, make, inAMinute);
    expect(await simulatorCached(name, make, inAMinute)).toEqual(first);
    expect(made).toBe(1);
    expect(statSync(file()).mode & 0o777).toBe(0o600);
    expect(statSync(simulatorCacheFolder()!).mode & 0o777).toBe(0o700);
  });

  it('are made again once expired', async () => {
    made = 0;
    await simulatorCached(name, make, () => Date.now() - 1);
    expect(await simulatorCached(name, make, inAMinute)).toEqual({ key: 'secret-2' });
    expect(await simulatorCached(name, make, inAMinute)).toEqual({ key: 'secret-2' });
  });

  it('are made again when the file is damaged or of another format', async () => {
    made = 0;
    writeFileSync(file(), '{"format": 1, "expiresAt": ', { mode: 0o600 });
    expect(await simulatorCached(name, make, inAMinute)).toEqual({ key: 'secret-1' });
    writeFileSync(file(), JSON.stringify({ format: 0, expiresAt: Date.now() + 60_000, value: { key: 'old' } }), { mode: 0o600 });
    expect(await simulatorCached(name, make, inAMinute)).toEqual({ key: 'secret-2' });
  });
});
