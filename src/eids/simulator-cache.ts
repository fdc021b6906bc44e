import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';

/**
 * Keys and certificates that simulators make for themselves (the simulated BankID's PKI, a
 * simulated upstream's signing keys, the broker's keys towards a simulated upstream), kept on
 * disk between runs. Making them costs seconds of CPU at every start (each RSA key about 0.2 s),
 * which is most of what `npm start` spent before it listened. Only simulator mode calls this:
 * nothing cached here is ever trusted by a real eID, and production keys never pass through it.
 *
 * The cache is a folder only its owner can read (0700, files 0600), under node_modules/.cache
 * or, where that cannot be written, the system's temporary folder. An entry that is missing,
 * unreadable, expired or of an older format is made again; a folder that others could write to
 * is not used at all.
 */

/** Bump when the shape of what is cached changes: older entries are then made again. */
const FORMAT = 1;

interface Entry<T> {
  format: number;
  expiresAt: number;
  value: T;
}

const candidates = (): string[] => [
  join(projectRoot, 'node_modules', '.cache', 'nordic-eid-broker', 'simulators'),
  join(tmpdir(), `nordic-eid-broker-simulators-${process.getuid?.() ?? 'user'}`),
];

let folder: string | null | undefined;

/** The first candidate folder that can be made and is private to this user; null if none is. */
export function simulatorCacheFolder(): string | null {
  if (folder !== undefined) return folder;
  folder = null;
  for (const dir of candidates()) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const stat = statSync(dir);
      const ownedByUs = process.getuid === undefined || stat.uid === process.getuid();
      if (stat.isDirectory() && ownedByUs && (stat.mode & 0o077) === 0) {
        folder = dir;
        break;
      }
    } catch {
      // Not writable here (a read-only install): try the next place.
    }
  }
  return folder;
}

function read<T>(path: string): T | undefined {
  try {
    const entry = JSON.parse(readFileSync(path, 'utf8')) as Entry<T>;
    return entry.format === FORMAT && entry.expiresAt > Date.now() ? entry.value : undefined;
  } catch {
    return undefined;
  }
}

/** Written to a file of its own, then renamed: processes starting together never read half an entry. */
function write<T>(path: string, value: T, expiresAt: number): void {
  const partial = `${path}.${randomBytes(6).toString('hex')}`;
  try {
    writeFileSync(partial, JSON.stringify({ format: FORMAT, expiresAt, value } satisfies Entry<T>), { mode: 0o600 });
    renameSync(partial, path);
  } catch {
    // A cache that cannot be written costs the next start some time, nothing else.
  }
}

/**
 * The value cached under `name`, or a new one from `make` (then cached until `expiresAt` of the
 * value says, a date before which it must be made again).
 */
export async function simulatorCached<T>(name: string, make: () => Promise<T>, expiresAt: (value: T) => number): Promise<T> {
  const dir = simulatorCacheFolder();
  const path = dir && join(dir, `${name.replace(/[^\w.-]/g, '_')}.json`);
  const cached = path ? read<T>(path) : undefined;
  if (cached !== undefined) return cached;
  const value = await make();
  if (path) write(path, value, expiresAt(value));
  return value;
}

/** Keys that do not expire by themselves are made again after this long all the same. */
export const SIMULATOR_KEY_LIFETIME_MS = 30 * 24 * 3_600_000;
