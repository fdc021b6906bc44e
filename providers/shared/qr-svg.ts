import { qrModules, type QrModules } from './qr-code.js';

/** Light modules around the code, as BankID's guidelines ask (at least one; two drawn). */
const MARGIN = 2;

/**
 * A QR code's payload (ASCII) as an SVG image, without inline style, so the page's CSP holds:
 * for the pages of app-based eIDs that poll rather than draw the code themselves. BankID's is drawn
 * once a second for every waiting login whose page polls, so its modules come from a template
 * per version (qr-code.ts) rather than a general encoder's searches, and its path is written as
 * bytes rather than joined from many small strings. The image is the one qrcode draws for the
 * same choices, module for module (providers/shared/test/qr-svg.test.ts): one path of horizontal
 * runs of dark modules on a white square. Its attributes are quoted with apostrophes and it ends
 * without qrcode's newline, so it is the content of its own JSON string as it stands: a poll's
 * answer writes it without escaping anything (BankID's `QrCodes`, `withJson`).
 */
export function qrSvg(payload: string): string {
  const code = qrModules(payload);
  const side = code.size + 2 * MARGIN;
  return (
    `<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 ${side} ${side}' shape-rendering='crispEdges'>` +
    `<path fill='#ffffff' d='M0 0h${side}v${side}H0z'/><path stroke='#000000' d='${darkRuns(code)}'/></svg>`
  );
}

const ASCII = { M: 77, m: 109, h: 104, space: 32, dot: 46, five: 53, zero: 48 };

/** Where paths are written; grown to the largest asked for, and reused (drawing is synchronous). */
let scratch = Buffer.alloc(0);
/** Where a row's changes from light to dark and back are noted; reused likewise. */
let edges = new Int32Array(0);

/**
 * The numbers a path holds (0 to 181, the widest side with its margins), 4 bytes each: how many
 * digits, then the ASCII digits. A number is written as all three digit bytes and the position
 * moved on by its digits (the next write covers the rest): no branch and no division per digit.
 */
const NUMBERS = new Uint8Array(4 * 182);
for (let n = 0; n < 182; n += 1) {
  const digits = String(n);
  NUMBERS[4 * n] = digits.length;
  for (let d = 0; d < digits.length; d += 1) NUMBERS[4 * n + 1 + d] = digits.charCodeAt(d);
}

/** Writes `n` (0 to 181) at `at` in `out`, and returns where the next byte goes. */
function writeNumber(out: Buffer, at: number, n: number): number {
  const entry = 4 * n;
  out[at] = NUMBERS[entry + 1]!;
  out[at + 1] = NUMBERS[entry + 2]!;
  out[at + 2] = NUMBERS[entry + 3]!;
  return at + NUMBERS[entry]!;
}

/**
 * The dark modules as path commands, row by row: each run a horizontal stroke through the
 * middle of its row (`M<x> <y>.5h<length>`), the first of a row moved to absolutely and the
 * others relative to the end of the one before (`m<gap> 0h<length>`). A row's runs are found
 * as the places where it changes from light to dark or back, noted without a branch on the
 * modules: those are as good as random, and a branch at each run's two ends, mispredicted about
 * every other time, was most of the path's cost (12.3 against 8.5 µs for BankID's code).
 */
function darkRuns({ size, dark }: QrModules): string {
  // A run and the gap before it take 2 modules at least, and a command at most 14 bytes; a
  // number's write covers 2 bytes past its digits.
  const needed = Math.ceil(size / 2) * size * 14 + 2;
  if (scratch.length < needed) scratch = Buffer.alloc(needed);
  if (edges.length < size + 1) edges = new Int32Array(size + 1);
  const out = scratch;
  let at = 0;
  for (let y = 0, row = 0; y < size; y += 1, row += size) {
    // edges: where each run starts and where it ends (the row's end, for a run that reaches it).
    let count = 0;
    let previous = 0;
    for (let x = 0; x < size; x += 1) {
      const module = dark[row + x]!;
      edges[count] = x;
      count += module ^ previous;
      previous = module;
    }
    edges[count] = size;
    count += previous;
    for (let e = 0; e < count; e += 2) {
      const start = edges[e]!;
      if (e === 0) {
        out[at++] = ASCII.M;
        at = writeNumber(out, at, start + MARGIN);
        out[at++] = ASCII.space;
        at = writeNumber(out, at, y + MARGIN);
        out[at++] = ASCII.dot;
        out[at++] = ASCII.five;
      } else {
        out[at++] = ASCII.m;
        at = writeNumber(out, at, start - edges[e - 1]!);
        out[at++] = ASCII.space;
        out[at++] = ASCII.zero;
      }
      out[at++] = ASCII.h;
      at = writeNumber(out, at, edges[e + 1]! - start);
    }
  }
  return out.toString('latin1', 0, at);
}
