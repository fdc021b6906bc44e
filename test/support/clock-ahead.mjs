// Preloaded into a broker process (node --import) by tests of instances whose clocks differ: the
// process's wall clock (Date.now and new Date()) runs 20 s ahead, as on a host whose time sync
// failed. Timers and performance.now keep their pace: only what the time of day says moves.
const AHEAD_MS = 20_000;
const RealDate = Date;
const realNow = RealDate.now;

class AheadDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(realNow() + AHEAD_MS);
    else super(...args);
  }

  static now() {
    return realNow() + AHEAD_MS;
  }
}

globalThis.Date = AheadDate;
