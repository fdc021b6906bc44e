import { readFileSync } from 'node:fs';

/**
 * What Linux says about a process, from /proc: the CPU time it has used and its resident
 * memory. Read from outside, so measuring costs the broker nothing.
 */

/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux the bench runs on. */
const TICKS_PER_SECOND = 100;

/** User plus system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; the fields after it are plain numbers.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** A field of /proc/<pid>/status given in kB, in bytes. */
function statusBytes(pid: number, field: 'VmRSS' | 'RssFile'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1];
  if (kb === undefined) throw new Error(`no ${field} for process ${pid}`);
  return Number(kb) * 1024;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  return statusBytes(pid, 'VmRSS');
}

/** A process's resident memory at one moment, and two parts of it that V8's figures do not show. */
export interface ResidentMemory {
  rssBytes: number;
  /** Mapped from files: the node binary and its libraries. */
  fileBytes: number;
  /** glibc's main malloc heap (the `[heap]` mapping): Node's C++ objects, such as an HTTP parser per open connection. */
  mallocHeapBytes: number;
}

/** Resident bytes of the `[heap]` mapping, from /proc/<pid>/smaps (a line per mapping field: read it seldom). */
function mallocHeapBytes(pid: number): number {
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const at = smaps.indexOf(' [heap]\n');
  if (at < 0) return 0;
  return Number(/^Rss:\s+(\d+) kB$/m.exec(smaps.slice(at))?.[1] ?? 0) * 1024;
}

/** Where a process's resident memory is: a broker's on Node 24 differs from Node 20's mostly outside V8's heap (BENCHMARKS.md). */
export function residentMemory(pid: number): ResidentMemory {
  return { rssBytes: rssBytes(pid), fileBytes: statusBytes(pid, 'RssFile'), mallocHeapBytes: mallocHeapBytes(pid) };
}

/** The soft limit on open files of a process (its `ulimit -n`): each socket takes one. */
export function openFilesLimit(pid: number): number {
  const limit = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1];
  if (limit === undefined) throw new Error(`no open files limit for process ${pid}`);
  return limit === 'unlimited' ? Infinity : Number(limit);
}

/** CPU use of a process over an interval, as a share of one core (1 = one core busy). */
export class CpuMeter {
  #cpu: number;
  #at: number;

  constructor(private readonly pid: number) {
    this.#cpu = cpuSeconds(pid);
    this.#at = performance.now();
  }

  /** Cores used since the meter started or was last read; restarts the interval. */
  read(): { cores: number; cpuSeconds: number; seconds: number } {
    const cpu = cpuSeconds(this.pid);
    const at = performance.now();
    const seconds = (at - this.#at) / 1000;
    const used = cpu - this.#cpu;
    this.#cpu = cpu;
    this.#at = at;
    return { cores: used / seconds, cpuSeconds: used, seconds };
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns its memory at the highest RSS seen (split only at a new peak). */
export function watchPeakMemory(pid: number, everyMs = 250): { stop(): ResidentMemory } {
  let peak = residentMemory(pid);
  const timer = setInterval(() => {
    try {
      if (rssBytes(pid) > peak.rssBytes) peak = residentMemory(pid);
    } catch {
      // The process ended; the peak so far stands.
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** Busy CPU seconds of the whole machine so far, from /proc/stat (all cores, idle and iowait excluded). */
function machineBusySeconds(): number {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS_PER_SECOND;
}

/**
 * How much of the machine others used while a scenario ran: the machine's busy CPU less
 * that of the bench's own processes (sampled every `everyMs`, so processes that come and go
 * are counted). Other people's builds and tests on the same machine show up here.
 */
export function watchOtherLoad(benchPids: () => number[], everyMs = 500): { stop(): { otherCores: number; benchCores: number } } {
  const started = performance.now();
  const machineAtStart = machineBusySeconds();
  const seen = new Map<number, { first: number; last: number }>();
  let initial = true;
  const sample = () => {
    for (const pid of [process.pid, ...benchPids()]) {
      try {
        const cpu = cpuSeconds(pid);
        const entry = seen.get(pid);
        // A process started since the watch began has used nothing but the bench's time.
        if (entry) entry.last = cpu;
        else seen.set(pid, { first: initial ? cpu : 0, last: cpu });
      } catch {
        // Ended between listing and reading.
      }
    }
  };
  sample();
  initial = false;
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      sample();
      clearInterval(timer);
      const seconds = (performance.now() - started) / 1000;
      const bench = [...seen.values()].reduce((sum, { first, last }) => sum + last - first, 0);
      const machine = machineBusySeconds() - machineAtStart;
      return { otherCores: Math.max(0, machine - bench) / seconds, benchCores: bench / seconds };
    },
  };
}
