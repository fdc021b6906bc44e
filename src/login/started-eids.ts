import { KeptCopies } from './kept-copies.js';

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

/** The id of each login's started eID (its `loginEid` record), by uid, as this instance last read or wrote it. */
export class StartedEids extends KeptCopies<string> {
  constructor() {
    super(KEPT_MS);
  }
}
