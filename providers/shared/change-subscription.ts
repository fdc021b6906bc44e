import type { OnChange } from './login-records.js';

/** Subscribes to the announcements of changed login records; resolves to what ends it. */
export type WatchChanges = (onChange: OnChange) => Promise<() => Promise<void>>;

/**
 * An instance's one subscription to its eID's announced changes, made when the first page waits
 * here. Pages await `ready` before they read a record, so a change between the two is heard, not
 * lost; a subscription that failed (the store away) is tried again by the next page.
 */
export class ChangeSubscription {
  readonly #watch: WatchChanges;
  readonly #onChange: OnChange;
  #subscribed: Promise<() => Promise<void>> | undefined;

  constructor(watch: WatchChanges, onChange: OnChange) {
    this.#watch = watch;
    this.#onChange = onChange;
  }

  ready(): Promise<unknown> {
    this.#subscribed ??= this.#watch(this.#onChange);
    return this.#subscribed.catch((err: unknown) => {
      this.#subscribed = undefined;
      throw err;
    });
  }

  async close(): Promise<void> {
    const stop = await this.#subscribed?.catch(() => undefined);
    await stop?.();
  }
}
