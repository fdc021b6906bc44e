import { writeSync } from 'node:fs';
import { pino, type DestinationStream } from 'pino';

/** How long a log line may wait in memory: what a process killed outright (SIGKILL, out of memory) loses at most. */
export const LOG_HOLD_MS = 10;
/**
 * Held lines are written at once when they reach this size: it bounds the memory held. It is
 * SonicBoom's largest single write, so that under load the lines of a whole LOG_HOLD_MS go in one
 * write (at 4 KB a busy token endpoint wrote twice per LOG_HOLD_MS, and writes cost more than lines).
 */
const LOG_HOLD_BYTES = 16 * 1024;

/**
 * How many bytes of lines may wait for a destination that takes none (a pipe nobody reads): past
 * it, new lines are dropped rather than held, so that a stuck log reader costs a bounded amount of
 * memory, never the process — which would take every login it serves with it.
 */
export const LOG_BACKLOG_BYTES = 16 * 1024 * 1024;
/** How long the exit may wait for a destination that takes no lines before it gives up on them. */
const EXIT_WRITE_MS = 1_000;

/** Where held lines go: pino's asynchronous stdout (a SonicBoom). */
export interface LineTarget {
  write(chunk: string): unknown;
  flush?(callback?: (error?: Error) => void): unknown;
  /** Writes at once what the target itself still holds. */
  flushSync?(): unknown;
}

/**
 * Log lines written in batches: held for up to LOG_HOLD_MS (or LOG_HOLD_BYTES), then handed to
 * `target` in one write. The token endpoint logs two lines a request (the request, the audit
 * event); a write each cost more CPU than the lines themselves. When the process exits (a
 * graceful shutdown's `process.exit`, an uncaught exception) the held lines are written
 * synchronously, with whatever `target` still holds, so only a process killed outright loses
 * lines: those of its last LOG_HOLD_MS.
 */
export class HeldLines implements DestinationStream {
  readonly #target: LineTarget;
  /** The file descriptor under `target`, written to directly at exit. */
  readonly #fd: number;
  #held = '';
  #timer: NodeJS.Timeout | undefined;

  constructor(target: LineTarget, fd: number) {
    this.#target = target;
    this.#fd = fd;
    process.once('exit', () => this.#flushSync());
  }

  write(line: string): void {
    this.#held += line;
    if (this.#held.length >= LOG_HOLD_BYTES) this.#handOver();
    else this.#timer ??= setTimeout(() => this.#handOver(), LOG_HOLD_MS).unref();
  }

  /** Hands the held lines over now (pino's `logger.flush`). */
  flush(callback?: (error?: Error) => void): void {
    this.#handOver();
    if (this.#target.flush) this.#target.flush(callback);
    else callback?.();
  }

  #handOver(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#held) return;
    const lines = this.#held;
    this.#held = '';
    this.#target.write(lines);
  }

  /** At exit there is no event loop left to finish an asynchronous write: the target's lines, then the held ones, written now. */
  #flushSync(): void {
    clearTimeout(this.#timer);
    try {
      this.#target.flushSync?.();
      if (this.#held) writeSync(this.#fd, this.#held);
      this.#held = '';
    } catch {
      // stdout closed or not open: nothing more can be written.
    }
  }
}

/**
 * Held lines for file descriptor `fd` (stdout: 1), written asynchronously. A destination that
 * stops taking lines (a pipe nobody reads) answers writes with EAGAIN: while the process runs,
 * the writes are tried again later, and lines past LOG_BACKLOG_BYTES are dropped; from the exit
 * on, they are tried for EXIT_WRITE_MS and then given up, so that a graceful shutdown still ends
 * (SonicBoom alone would try them again for ever, in pino's exit handler as in ours).
 */
export function descriptorLines(fd: number): HeldLines {
  let giveUpAt = Infinity;
  // Registered before pino's own exit handler (which pino.destination registers), so that it runs first.
  process.once('exit', () => (giveUpAt = performance.now() + EXIT_WRITE_MS));
  const target = pino.destination({ dest: fd, sync: false, maxLength: LOG_BACKLOG_BYTES, retryEAGAIN: () => performance.now() < giveUpAt });
  const flushSync = target.flushSync.bind(target);
  // Given up, the write throws; pino's exit handler calls this too, and must not end the exit with that error.
  target.flushSync = () => {
    try {
      flushSync();
    } catch {
      // The destination takes no more lines: those still held are lost with the process.
    }
  };
  return new HeldLines(target, fd);
}
