import type { Store } from './store.js';

/**
 * The store as one eID plugin sees it: every key and channel it names lands under `namespace`
 * (its id and ':', from pluginNamespace), so the plugin names only the rest. Prefixing is string
 * work only: each call is the same one command on the store underneath. Written out method by
 * method rather than as a Proxy, so that a method added to Store fails to compile here until it
 * is scoped too, instead of passing a key through unprefixed.
 */
export function scopedStore(inner: Store, namespace: string): Store {
  const scoped = (key: string) => namespace + key;
  return {
    get: (key) => inner.get(scoped(key)),
    set: (key, value, ttlSeconds) => inner.set(scoped(key), value, ttlSeconds),
    replace: (key, value, ttlSeconds) => inner.replace(scoped(key), value, ttlSeconds),
    setIfAbsent: (key, value, ttlSeconds) => inner.setIfAbsent(scoped(key), value, ttlSeconds),
    update: (key, value, ttlSeconds) => inner.update(scoped(key), value, ttlSeconds),
    lease: (key, ttlMs) => inner.lease(scoped(key), ttlMs),
    claimLease: (key, claim, ttlMs) => inner.claimLease(scoped(key), claim, ttlMs),
    consume: (key, at, claim) => inner.consume(scoped(key), at, claim),
    release: (key, claim) => inner.release(scoped(key), claim),
    delete: (...keys) => inner.delete(...keys.map(scoped)),
    addToSet: (key, member, ttlSeconds) => inner.addToSet(scoped(key), member, ttlSeconds),
    members: (key) => inner.members(scoped(key)),
    removeFromSet: (key, member) => inner.removeFromSet(scoped(key), member),
    increment: (key, ttlSeconds, by, ttlAbove) => inner.increment(scoped(key), ttlSeconds, by, ttlAbove),
    incrementAll: (counters, ttlSeconds) => inner.incrementAll(counters.map((counter) => ({ ...counter, key: scoped(counter.key) })), ttlSeconds),
    appendToStream: (key, entries, maxLength, batch) => inner.appendToStream(scoped(key), entries, maxLength, batch),
    readStream: (key, count) => inner.readStream(scoped(key), count),
    track: (key, members, ttlSeconds) => inner.track(scoped(key), members, ttlSeconds),
    untrack: (key, members) => inner.untrack(scoped(key), members),
    countTracked: (key) => inner.countTracked(scoped(key)),
    publish: (channel, message) => inner.publish(scoped(channel), message),
    subscribe: (channel, onMessage, onMissed) => inner.subscribe(scoped(channel), onMessage, onMissed),
    schedule: (key, member, dueAtMs) => inner.schedule(scoped(key), member, dueAtMs),
    takeDue: (key, limit, leaseMs) => inner.takeDue(scoped(key), limit, leaseMs),
    unschedule: (key, member) => inner.unschedule(scoped(key), member),
    countScheduled: (key) => inner.countScheduled(scoped(key)),
    get available() {
      return inner.available;
    },
    get answering() {
      return inner.answering;
    },
    ping: () => inner.ping(),
    now: () => inner.now(),
    justStarted: () => inner.justStarted(),
    // The store is the broker's: it closes it once, after every plugin. A plugin's view closes nothing.
    close: async () => undefined,
  };
}
