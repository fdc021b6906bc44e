import type { Store } from '../../src/eids/sdk.js';

/** Told of a changed login record: its uid, and the version it changed to when the announcement says. */
export type OnChange = (uid: string, version?: string) => void;

/**
 * The one record an eID keeps per login while the person is at the eID (a BankID order, a
 * Freja eID transaction), by interaction: `<kind>:<uid>`, plus `lease:<reference>`, the right
 * to ask the eID about it now, which one instance at a time holds for a poll interval. Every
 * key expires: a login whose browser went away leaves nothing behind. A change is announced on
 * `<kind>s` as `<uid> <version>`, for the instances whose pages wait on that login: one that
 * shows that version already need not read the record again. Keys and channel are in the
 * plugin's namespace of the store (the core adds `<id>:`), so two eIDs never share one.
 */
/** What take leaves in a record's place: no record. */
const TAKEN = 'null';

function parsed<T>(value: string): T | undefined {
  return (JSON.parse(value) as T | null) ?? undefined;
}

/** The login's record is gone from the store: nothing can come of its transaction at the eID. */
export class LoginGoneError extends Error {
  constructor() {
    super("the login's record is gone from the store");
  }
}

/**
 * Runs `save` (of a status fetched from the eID); when the login turned out to be gone, stops its
 * transaction at the eID with `stop` and answers false.
 */
export async function savedOrStopped(save: () => Promise<void>, stop: () => Promise<void>): Promise<boolean> {
  try {
    await save();
    return true;
  } catch (err) {
    if (!(err instanceof LoginGoneError)) throw err;
    await stop();
    return false;
  }
}

export class LoginRecords<T> {
  readonly #prefix: string;
  readonly #channel: string;
  readonly #leasePrefix: string;

  constructor(
    protected readonly store: Store,
    kind: string,
    private readonly settings: { ttlSeconds: number; pollFrequencySeconds: number; versionOf: (record: T | undefined) => string },
  ) {
    this.#prefix = `${kind}:`;
    this.#channel = `${kind}s`;
    this.#leasePrefix = 'lease:';
  }

  /**
   * The time now (epoch ms) by the store's clock, which every instance reads alike: a record's
   * times are taken by it, as any instance counts from them (BankID's QR codes, a login's allowed
   * time), however far apart the hosts' clocks are.
   */
  now(): number {
    return this.store.now();
  }

  async get(uid: string): Promise<T | undefined> {
    const record = await this.store.get(this.#prefix + uid);
    return record ? parsed<T>(record.value) : undefined;
  }

  /**
   * Saves a changed record and tells every instance; throws LoginGoneError when the login has no
   * record any more. A status fetched while Redis restarted empty (or the record expired) must
   * not make the record again: its login is gone, and an order kept alive for it would have the
   * person approve for nothing.
   */
  async save(uid: string, record: T): Promise<void> {
    if (!(await this.store.update(this.#prefix + uid, JSON.stringify(record), this.settings.ttlSeconds))) throw new LoginGoneError();
    await this.#announce(uid, record);
  }

  /**
   * Makes `record` the login's and returns the one it replaced, if any. Two starts of one login
   * racing each other both succeed here, and each learns which record it pushed out.
   */
  async replace(uid: string, record: T): Promise<T | undefined> {
    const earlier = await this.store.replace(this.#prefix + uid, JSON.stringify(record), this.settings.ttlSeconds);
    await this.#announce(uid, record);
    return earlier === undefined ? undefined : parsed<T>(earlier);
  }

  /**
   * Takes the login's record out and returns it, if any, in one step: a start racing this
   * (another tab) either pushed its record out before, and hears of it from replace, or stores
   * its own after, which this never removes unseen. What is left is a mark of no record, which
   * expires as a record would.
   */
  async take(uid: string): Promise<T | undefined> {
    const taken = await this.store.replace(this.#prefix + uid, TAKEN, this.settings.ttlSeconds);
    await this.#announce(uid, undefined);
    return taken === undefined ? undefined : parsed<T>(taken);
  }

  /**
   * True when the caller may ask the eID about `reference` now: no one, on any instance, has
   * within the poll interval. Never released: it lapses, which is both the pace of requests and
   * how soon a dead instance's lease stops counting.
   */
  lease(reference: string): Promise<boolean> {
    return this.store.lease(this.#leasePrefix + reference, this.settings.pollFrequencySeconds * 1000);
  }

  /**
   * Calls `onChange` with the uid of every login whose record changes, on any instance, and the
   * version it changed to (none from an instance of an earlier release, which announced the uid alone).
   */
  /** `onMissed`: announcements were lost while the store was away (see Store.subscribe). */
  watchChanges(onChange: OnChange, onMissed?: () => void): Promise<() => Promise<void>> {
    return this.store.subscribe(
      this.#channel,
      (message) => {
        const space = message.indexOf(' ');
        if (space < 0) onChange(message);
        else onChange(message.slice(0, space), message.slice(space + 1));
      },
      onMissed,
    );
  }

  #announce(uid: string, record: T | undefined): Promise<void> {
    return this.store.publish(this.#channel, `${uid} ${this.settings.versionOf(record)}`);
  }
}
