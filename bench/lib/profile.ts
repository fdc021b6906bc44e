import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Reads a V8 CPU profile (node --cpu-prof) and lists where the time went: by function, its
 * own time (self) and the time of everything it called (total), in ms and as a share of all
 * sampled time.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  name: string;
  selfMs: number;
  totalMs: number;
  selfShare: number;
  totalShare: number;
}

/** The source maps of the bundle's files (scripts/bundle.js), by the file's URL; null for a file without one. */
const sourceMaps = new Map<string, SourceMap | null>();

function sourceMapOf(url: string): SourceMap | null {
  if (!sourceMaps.has(url)) {
    const mapFile = url.startsWith('file://') ? `${fileURLToPath(url)}.map` : undefined;
    sourceMaps.set(url, mapFile && existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : null);
  }
  return sourceMaps.get(url)!;
}

/** Where a frame of the bundle was in its source file (TypeScript, or a dependency's file); other frames as they are. */
function original({ url, lineNumber, columnNumber }: ProfileNode['callFrame']): { url: string; lineNumber: number } {
  const entry = sourceMapOf(url)?.findEntry(lineNumber, columnNumber);
  if (!entry || !('originalSource' in entry)) return { url, lineNumber };
  return { url: new URL(entry.originalSource, url).href, lineNumber: entry.originalLine };
}

function label(node: ProfileNode, root: string): string {
  const { functionName } = node.callFrame;
  const { url, lineNumber } = original(node.callFrame);
  const file = url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/nordic-eid-bench\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(root, '');
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
}

export function hotSpots(path: string, root: string): { sampledMs: number; spots: HotSpot[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const sampledUs = [...selfUs.values()].reduce((sum, us) => sum + us, 0);

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  // Depth first, counting a function's total once per stack even when it recurses.
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id)!;
    const name = label(node, root);
    const own = selfUs.get(id) ?? 0;
    self.set(name, (self.get(name) ?? 0) + own);
    const nested = new Set(onStack).add(name);
    const below = (node.children ?? []).reduce((sum, child) => sum + walk(child, nested), 0);
    if (!onStack.has(name)) total.set(name, (total.get(name) ?? 0) + own + below);
    return own + below;
  };
  walk(profile.nodes[0]!.id, new Set());

  const spots = [...total.keys()].map((name) => ({
    name,
    selfMs: (self.get(name) ?? 0) / 1000,
    totalMs: (total.get(name) ?? 0) / 1000,
    selfShare: (self.get(name) ?? 0) / sampledUs,
    totalShare: (total.get(name) ?? 0) / sampledUs,
  }));
  return { sampledMs: sampledUs / 1000, spots };
}

/** The top functions by self time, and the project's own functions by total time, as text. */
export function describeProfile(path: string, root: string, top = 20): string {
  const { sampledMs, spots } = hotSpots(path, root);
  const line = (spot: HotSpot) =>
    `  ${(spot.selfShare * 100).toFixed(1).padStart(5)}% self  ${(spot.totalShare * 100).toFixed(1).padStart(5)}% total  ${spot.name}`;
  const bySelf = [...spots].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  const ownCode = spots
    .filter((spot) => / \/?(src|providers)\//.test(spot.name))
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, top);
  return [
    `${path}: ${Math.round(sampledMs)} ms sampled`,
    ' by self time:',
    ...bySelf.map(line),
    ' the project\'s own code by total time:',
    ...ownCode.map(line),
  ].join('\n');
}
