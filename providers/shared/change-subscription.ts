import type { OnChange } from './login-records.js';

/** Subscribes to the announcements of changed login records; resolves to what ends it. */
export type WatchChanges = (onChange: OnChange, onMissed: () => void) => Promise<() => Promise<void>>;

/**
 * An instance's one subscription to its eID's announced changes, made when the first page waits
 * here. Pages await `ready` before they read a record, so a change between the two is heard, not
 * lost; a subscription that failed (the store away) is tried again by the next page.
 */
export class ChangeSubscription {
  readonly #watch: WatchChanges;
  readonly #onChange: OnChange;
  readonly #onMissed: () => void;
  #subscribed: Promise<() => Promise<void>> | undefined;

  /** `onMissed`: the subscription is back after the store was away; every record waited on may have changed unannounced. */
  constructor(watch: WatchChanges, onChange: OnChange, onMissed: () => void) {
    this.#watch = watch;
    this.#onChange = onChange;
    this.#onMissed = onMissed;
  }

  ready(): Promise<unknown> {
    this.#subscribed ??= this.#watch(this.#onChange, this.#onMissed);
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
