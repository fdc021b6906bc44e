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

/**
 * The dark modules as path commands, row by row: each run a horizontal stroke through the
 * middle of its row (`M<x> <y>.5h<length>`), the first of a row moved to absolutely and the
 * others relative to the end of the one before (`m<gap> 0h<length>`).
 */
function darkRuns({ size, dark }: QrModules): string {
  // A run and the gap before it take 2 modules at least, and a command at most 14 bytes.
  const needed = Math.ceil(size / 2) * size * 14;
  if (scratch.length < needed) scratch = Buffer.alloc(needed);
  const out = scratch;
  let at = 0;
  const number = (n: number) => {
    if (n >= 100) out[at++] = ASCII.zero + Math.floor(n / 100);
    if (n >= 10) out[at++] = ASCII.zero + (Math.floor(n / 10) % 10);
    out[at++] = ASCII.zero + (n % 10);
  };
  for (let y = 0; y < size; y += 1) {
    const row = y * size;
    let lastEnd = -1;
    let x = 0;
    while (x < size) {
      if (!dark[row + x]) {
        x += 1;
        continue;
      }
      const start = x;
      while (x < size && dark[row + x]) x += 1;
      if (lastEnd < 0) {
        out[at++] = ASCII.M;
        number(start + MARGIN);
        out[at++] = ASCII.space;
        number(y + MARGIN);
        out[at++] = ASCII.dot;
        out[at++] = ASCII.five;
      } else {
        out[at++] = ASCII.m;
        number(start - lastEnd);
        out[at++] = ASCII.space;
        out[at++] = ASCII.zero;
      }
      out[at++] = ASCII.h;
      number(x - start);
      lastEnd = x;
    }
  }
  return out.toString('latin1', 0, at);
}
