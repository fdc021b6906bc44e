import { writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';

/** How long a log line may wait in memory: what a process killed outright (SIGKILL, out of memory) loses at most. */
export const LOG_HOLD_MS = 10;
/**
 * Held lines are written at once when they reach this size: it bounds the memory held. It is
 * SonicBoom's largest single write, so that under load the lines of a whole LOG_HOLD_MS go in one
 * write (at 4 KB a busy token endpoint wrote twice per LOG_HOLD_MS, and writes cost more than lines).
 */
const LOG_HOLD_BYTES = 16 * 1024;

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
