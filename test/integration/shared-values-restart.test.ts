import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestBroker, webClient } from '../support/broker.js';
import { eventually } from '../support/ops.js';
import { openMonitor, startRedisPassage, startRedisServer, uniquePrefix } from '../support/redis.js';
import { logIn, RelyingParty } from '../support/relying-party.js';

/** The sub of the test-double eID's first person, as a client of the broker at `issuer` gets it. */
async function subjectAt(issuer: string): Promise<string> {
  const rp = await RelyingParty.discover(issuer, webClient);
  const tokens = await rp.redeem(await logIn(rp));
  return tokens.claims()!.sub;
}

async function publishedKeys(issuer: string): Promise<string[]> {
  const { keys } = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
  return keys.map((key) => key.kid).sort();
}

describe('Redis restarted empty (nothing persisted) while an instance that generated its keys runs', () => {
  it('an instance started after it agrees with it: the same sub for the same person, the same signing keys', async () => {
    const redis = await startRedisServer();
    afterAll(() => redis.stop());
    const prefix = uniquePrefix('shared-values');
    // No cookie_keys, subject_secret, store_encryption_keys or jwks: the first instance generates them into Redis.
    const settings = { redis: { url: redis.url, key_prefix: prefix } };
    const running = await startTestBroker(settings, 'running', { prefix });
    const sub = await subjectAt(running.issuer);

    await redis.stop();
    await redis.start();
    // The running instance puts back the values it uses once it is connected again.
    const admin = new Redis(redis.url);
    afterAll(() => admin.disconnect());
    const shared = ['signing', 'cookie', 'subject', 'store-encryption'].map((name) => `${prefix}keys:${name}`);
    await eventually(async () => (await admin.exists(...shared)) === shared.length);

    const started = await startTestBroker(settings, 'started', { prefix });
    expect(await subjectAt(started.issuer)).toBe(sub);
    expect(await publishedKeys(started.issuer)).toEqual(await publishedKeys(running.issuer));
  });
});

describe('an instance that starts as Redis comes back empty, before the running instance is connected again', () => {
  it('waits for the running instance to write its values back, and agrees with it', async () => {
    const redis = await startRedisServer();
    const passage = await startRedisPassage(redis);
    afterAll(async () => {
      await passage.close();
      await redis.stop();
    });
    const prefix = uniquePrefix('shared-values-race');
    // The running instance reaches Redis through the passage, which holds back its write-back.
    const running = await startTestBroker({ redis: { url: passage.url, key_prefix: prefix } }, 'running', { prefix });
    const sub = await subjectAt(running.issuer);
    const letWriteBackThrough = passage.holdCommands(/keys:(?!back)/);

    await redis.stop();
    await redis.start();
    const monitor = await openMonitor(redis.url);
    afterAll(() => monitor.disconnect());
    // The new instance's first command after finding a value missing: generating it (a write of
    // keys:…), or asking how long Redis has been up. Only then does the write-back go through.
    const lookedFurther = new Promise<void>((resolve) =>
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args[0] === 'info' || (args[0] !== 'get' && args.some((arg) => arg.startsWith(`${prefix}keys:`)))) resolve();
      }),
    );
    const starting = startTestBroker({ redis: { url: redis.url, key_prefix: prefix } }, 'started', { prefix });
    await lookedFurther;
    letWriteBackThrough();
    const started = await starting;

    expect(await subjectAt(started.issuer)).toBe(sub);
    expect(await publishedKeys(started.issuer)).toEqual(await publishedKeys(running.issuer));
  });
});

describe('an instance whose read of a shared value gets no answer in time as it starts (Redis stalled a moment)', () => {
  it('reads it again once Redis answers, and starts', async () => {
    const redis = await startRedisServer({ args: ['--enable-debug-command', 'yes'] });
    const passage = await startRedisPassage(redis);
    afterAll(async () => {
      await passage.close();
      await redis.stop();
    });
    const prefix = uniquePrefix('shared-values-late');
    // Redis sleeps past the command timeout (500 ms) just before it reads the signing keys.
    const stalled = passage.sleepAt(/keys:signing/, 2);
    const started = await startTestBroker({ redis: { url: passage.url, key_prefix: prefix } }, 'late', { prefix });
    await stalled;
    expect((await publishedKeys(started.issuer)).length).toBeGreaterThan(0);
  });
});
