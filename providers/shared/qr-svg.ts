/** Loaded at the first SVG (a login's start or a poll), so start-up does not wait for it; then kept. */
let encoder: Promise<typeof import('lean-qr')> | undefined;

/** Light modules around the code, as BankID's guidelines ask (at least one; two drawn). */
const MARGIN = 2;

/**
 * A QR code's payload (ASCII) as an SVG image, without inline style, so the page's CSP holds:
 * for the pages of app-based eIDs that poll rather than draw the code themselves. BankID's is drawn
 * once a second for every waiting login whose page polls, so it is made by lean-qr (the encoder
 * the pages themselves use, about three times faster than qrcode's) with the encoder's searches
 * skipped: one byte segment (the payload is ASCII; a shorter mix of modes makes the same size)
 * and one fixed mask pattern (any of the eight is valid; scoring all of them is most of the
 * work). The image is the one qrcode draws for the same choices, module for module and byte for
 * byte (providers/se-bankid/test/units.test.ts): one path of horizontal runs of dark modules on a
 * white square.
 */
export async function qrSvg(payload: string): Promise<string> {
  const { generate, correction, mode } = await (encoder ??= import('lean-qr'));
  const code = generate(mode.bytes(Buffer.from(payload)), { minCorrectionLevel: correction.L, maxCorrectionLevel: correction.L, mask: 2 });
  const side = code.size + 2 * MARGIN;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${side} ${side}" shape-rendering="crispEdges">` +
    `<path fill="#ffffff" d="M0 0h${side}v${side}H0z"/><path stroke="#000000" d="${darkRuns(code)}"/></svg>\n`
  );
}

/**
 * The dark modules as path commands, row by row: each run a horizontal stroke through the
 * middle of its row, the first of a row moved to absolutely and the others relative to the end
 * of the one before.
 */
function darkRuns(code: { size: number; get(x: number, y: number): boolean }): string {
  let path = '';
  for (let y = 0; y < code.size; y += 1) {
    let lastEnd = -1;
    let x = 0;
    while (x < code.size) {
      if (!code.get(x, y)) {
        x += 1;
        continue;
      }
      const start = x;
      while (x < code.size && code.get(x, y)) x += 1;
      path += lastEnd < 0 ? `M${start + MARGIN} ${y + MARGIN + 0.5}h${x - start}` : `m${start - lastEnd} 0h${x - start}`;
      lastEnd = x;
    }
  }
  return path;
}

