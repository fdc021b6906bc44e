/**
 * How long this instance trusts the started eID it last read or wrote for a login. The calls
 * that follow a start (a waiting page's poll, once a second) then cost the store one read in
 * that time rather than one each. A write on this instance replaces the copy at once; another
 * eID started for the login on another instance (the person went back and chose again there)
 * shows here within this time, until when a page left open on the earlier eID still gets that
 * eID's status here. It cannot end anything: an outcome is recorded only after the store
 * confirms the eID (LoginSteps.finish).
 */
const KEPT_MS = 10_000;

/** Copies kept at most: a bound on memory however many logins come, the oldest going first. */
const MAX_KEPT = 50_000;

/** The id of each login's started eID (its `loginEid` record), by uid, as this instance last read or wrote it. */
export class StartedEids {
  readonly #kept = new Map<string, { eid: string; expiresAt: number }>();

  get(uid: string): string | undefined {
    const kept = this.#kept.get(uid);
    if (kept && kept.expiresAt <= Date.now()) {
      this.#kept.delete(uid);
      return undefined;
    }
    return kept?.eid;
  }

  keep(uid: string, eid: string): void {
    this.#kept.delete(uid);
    if (this.#kept.size >= MAX_KEPT) this.#kept.delete(this.#kept.keys().next().value!);
    this.#kept.set(uid, { eid, expiresAt: Date.now() + KEPT_MS });
  }

  drop(uid: string): void {
    this.#kept.delete(uid);
  }
}
