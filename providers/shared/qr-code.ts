/**
 * QR codes as app-based eIDs' pages show them: one byte segment, error correction level L and
 * mask pattern 2, in the smallest version that holds the payload (ISO/IEC 18004). These choices
 * are fixed, so everything but the data is the same for every code of a version: its function
 * patterns, format and version information, and the order in which data bits fill the free
 * modules. That is worked out once per version (a template); a code then costs its codewords,
 * their Reed–Solomon check words and one pass over the data modules. BankID's animated payload
 * has the same length every second of an order, so its pages use one template for good.
 */

/** The modules of a code, row by row from the top left: 1 dark, 0 light. */
export interface QrModules {
  /** Modules per side. */
  size: number;
  dark: Uint8Array;
}

/** Codewords of each version, data and error correction together (index: version − 1). */
const TOTAL_CODEWORDS = [
  26, 44, 70, 100, 134, 172, 196, 242, 292, 346, 404, 466, 532, 581, 655, 733, 815, 901, 991, 1085, 1156, 1258, 1364, 1474, 1588, 1706, 1828, 1921, 2051,
  2185, 2323, 2465, 2611, 2761, 2876, 3034, 3196, 3362, 3532, 3706,
];

/** Error correction blocks of each version at level L. */
const BLOCKS_L = [1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25];

/** Error correction codewords of each version at level L, all blocks together. */
const CHECK_CODEWORDS_L = [
  7, 10, 15, 20, 26, 36, 40, 48, 60, 72, 80, 96, 104, 120, 132, 144, 168, 180, 196, 224, 224, 252, 270, 300, 312, 336, 360, 390, 420, 450, 480, 510, 540, 570,
  570, 600, 630, 660, 720, 750,
];

const BYTE_MODE = 0b0100;
/** Level L (01) and mask pattern 2 (010), as format information carries them. */
const FORMAT_DATA = (0b01 << 3) | 2;
/** Mask pattern 2: modules whose column is a multiple of 3 are flipped. */
const masked = (_row: number, column: number): boolean => column % 3 === 0;
const PAD_CODEWORDS = [0xec, 0x11];

/** Everything of a version that does not depend on the data. */
interface Template {
  version: number;
  size: number;
  /** The function patterns and format and version information; each data module as the mask draws a 0 bit there. */
  base: Uint8Array;
  /**
   * The grid index of the 8 modules of each codeword, most significant bit first, the codewords
   * in `codewords` order (every block's data, then every block's check words): the blocks'
   * interleaving is in it. The remainder modules after the last codeword stay as a 0 bit draws them.
   */
  modulesOf: Int32Array;
  /** Data codewords per block: the short blocks first, then those one longer. */
  blockLengths: number[];
  checkPerBlock: number;
  /** Where each code's codewords are worked out: drawing is synchronous, so one per version does. */
  codewords: Uint8Array;
}

const templates = new Map<number, Template>();

/** The code of `payload` (its bytes as UTF-8), as qrcode and lean-qr draw it for the same choices. */
export function qrModules(payload: string): QrModules {
  const bytes = Buffer.from(payload);
  const template = templateFor(versionFor(bytes.length));
  const { codewords, modulesOf } = template;
  writeData(template, bytes);
  writeChecks(template);
  // The template's data modules are already masked as for a 0 bit: a 1 bit flips its module.
  const dark = template.base.slice();
  // Without a branch on each bit: the bits are as good as random, and a mispredicted branch on
  // every other one cost more than flipping every module by its bit.
  for (let c = 0, k = 0; c < codewords.length; c += 1, k += 8) {
    const codeword = codewords[c]!;
    for (let bit = 0; bit < 8; bit += 1) dark[modulesOf[k + bit]!]! ^= (codeword >> (7 - bit)) & 1;
  }
  return { size: template.size, dark };
}

/** Bits the character count takes in byte mode. */
const countBits = (version: number): number => (version < 10 ? 8 : 16);

const dataCapacity = (version: number): number => TOTAL_CODEWORDS[version - 1]! - CHECK_CODEWORDS_L[version - 1]!;

/** The smallest version whose data codewords hold the segment. */
function versionFor(length: number): number {
  for (let version = 1; version <= 40; version += 1) {
    if (4 + countBits(version) + 8 * length <= dataCapacity(version) * 8) return version;
  }
  throw new RangeError(`a QR code holds at most 2,953 bytes, not ${length}`);
}

/** The data codewords: mode, count, the bytes, the terminator, then pad codewords to the version's capacity. */
function writeData({ version, codewords }: Template, bytes: Uint8Array): void {
  const capacity = dataCapacity(version);
  let at = 0;
  let acc = 0;
  let accBits = 0;
  const put = (value: number, bitCount: number) => {
    acc = (acc << bitCount) | value;
    accBits += bitCount;
    while (accBits >= 8) {
      accBits -= 8;
      codewords[at++] = (acc >> accBits) & 0xff;
    }
    acc &= (1 << accBits) - 1;
  };
  put(BYTE_MODE, 4);
  put(bytes.length, countBits(version));
  for (const byte of bytes) put(byte, 8);
  // The terminator (up to 4 zero bits) and the zeros to the byte's end.
  put(0, Math.min(4, capacity * 8 - at * 8 - accBits));
  if (accBits > 0) put(0, 8 - accBits);
  for (let pad = 0; at < capacity; pad += 1) codewords[at++] = PAD_CODEWORDS[pad % 2]!;
}

/**
 * Each block's check words after all the data: the remainder of the block times x^degree
 * divided by the generator, worked out codeword by codeword in the check words' own place.
 */
function writeChecks({ blockLengths, checkPerBlock: degree, codewords }: Template): void {
  const products = generatorProducts(degree);
  let check = codewords.length - degree * blockLengths.length;
  for (let b = 0, start = 0; b < blockLengths.length; start += blockLengths[b]!, b += 1, check += degree) {
    codewords.fill(0, check, check + degree);
    for (let i = start; i < start + blockLengths[b]!; i += 1) {
      const row = (codewords[i]! ^ codewords[check]!) * degree;
      for (let j = 0; j < degree - 1; j += 1) codewords[check + j] = codewords[check + j + 1]! ^ products[row + j]!;
      codewords[check + degree - 1] = products[row + degree - 1]!;
    }
  }
}

/** GF(256) with the polynomial x⁸ + x⁴ + x³ + x² + 1: antilogarithms (doubled, so sums of logs need no modulo) and logarithms. */
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i += 1) {
  EXP[i] = x;
  LOG[x] = i;
  x = x & 0x80 ? ((x << 1) ^ 0x11d) & 0xff : x << 1;
}
for (let i = 255; i < 512; i += 1) EXP[i] = EXP[i - 255]!;

/**
 * Generator polynomials by degree, as the products of their coefficients (the leading 1 left
 * out) with every factor: row f holds f × each coefficient. A check word then costs one lookup
 * per coefficient rather than a logarithm, an antilogarithm and a test for zero.
 */
const generators = new Map<number, Uint8Array>();

function generatorProducts(degree: number): Uint8Array {
  let products = generators.get(degree);
  if (products) return products;
  // (x − α⁰)(x − α¹)…(x − α^(degree−1)), coefficients from the highest power down.
  let poly = new Uint8Array([1]);
  for (let i = 0; i < degree; i += 1) {
    const next = new Uint8Array(poly.length + 1);
    for (let j = 0; j < poly.length; j += 1) {
      next[j]! ^= poly[j]!;
      next[j + 1]! ^= poly[j] ? EXP[LOG[poly[j]!]! + i]! : 0;
    }
    poly = next;
  }
  const coefficients = poly.subarray(1);
  products = new Uint8Array(256 * degree);
  for (let factor = 1; factor < 256; factor += 1) {
    coefficients.forEach((c, j) => (products![factor * degree + j] = c ? EXP[LOG[c]! + LOG[factor]!]! : 0));
  }
  generators.set(degree, products);
  return products;
}

function templateFor(version: number): Template {
  let template = templates.get(version);
  if (!template) templates.set(version, (template = buildTemplate(version)));
  return template;
}

function buildTemplate(version: number): Template {
  const size = 4 * version + 17;
  const base = new Uint8Array(size * size);
  const reserved = new Uint8Array(size * size);
  const set = (row: number, column: number, dark: boolean | number) => {
    base[row * size + column] = dark ? 1 : 0;
    reserved[row * size + column] = 1;
  };
  drawFinders(size, set);
  for (let i = 8; i < size - 8; i += 1) {
    set(i, 6, i % 2 === 0);
    set(6, i, i % 2 === 0);
  }
  drawAlignments(version, set);
  if (version >= 7) drawVersionInformation(version, size, set);
  drawFormatInformation(size, set);

  const dataModules: number[] = [];
  // Two columns at a time from the right, up then down, skipping the vertical timing pattern.
  for (let right = size - 1, upwards = true; right > 0; right -= 2, upwards = !upwards) {
    if (right === 6) right -= 1;
    for (let step = 0; step < size; step += 1) {
      const row = upwards ? size - 1 - step : step;
      for (const column of [right, right - 1]) {
        if (reserved[row * size + column]) continue;
        dataModules.push(row * size + column);
        if (masked(row, column)) base[row * size + column] = 1;
      }
    }
  }

  const blocks = BLOCKS_L[version - 1]!;
  const checkPerBlock = CHECK_CODEWORDS_L[version - 1]! / blocks;
  const dataCodewords = dataCapacity(version);
  const short = Math.floor(dataCodewords / blocks);
  const blockLengths = Array.from({ length: blocks }, (_, b) => (b < blocks - (dataCodewords % blocks) ? short : short + 1));
  const blockStarts = blockLengths.map((_, b) => blockLengths.slice(0, b).reduce((sum, length) => sum + length, 0));
  // The symbol's codeword order: the blocks' data column by column (the longer blocks' last ones at the end), then their check words likewise.
  const order: number[] = [];
  for (let i = 0; i <= short; i += 1) blockLengths.forEach((length, b) => i < length && order.push(blockStarts[b]! + i));
  for (let i = 0; i < checkPerBlock; i += 1) blockLengths.forEach((_, b) => order.push(dataCodewords + b * checkPerBlock + i));
  const modulesOf = new Int32Array(order.length * 8);
  order.forEach((codeword, place) => modulesOf.set(dataModules.slice(place * 8, place * 8 + 8), codeword * 8));
  return { version, size, base, modulesOf, blockLengths, checkPerBlock, codewords: new Uint8Array(order.length) };
}

type Draw = (row: number, column: number, dark: boolean | number) => void;

/** The three finder patterns with their light separators. */
function drawFinders(size: number, set: Draw): void {
  for (const [top, left] of [
    [0, 0],
    [size - 7, 0],
    [0, size - 7],
  ] as const) {
    for (let r = -1; r <= 7; r += 1) {
      for (let c = -1; c <= 7; c += 1) {
        const row = top + r;
        const column = left + c;
        if (row < 0 || row >= size || column < 0 || column >= size) continue;
        const ring = (r >= 0 && r <= 6 && (c === 0 || c === 6)) || (c >= 0 && c <= 6 && (r === 0 || r === 6));
        set(row, column, ring || (r >= 2 && r <= 4 && c >= 2 && c <= 4));
      }
    }
  }
}

/** Alignment pattern centres: 6, the last at size − 7, evenly spaced between (ISO/IEC 18004 Annex E). */
function alignmentCoordinates(version: number): number[] {
  if (version === 1) return [];
  const count = Math.floor(version / 7) + 2;
  const size = 4 * version + 17;
  const interval = size === 145 ? 26 : Math.ceil((size - 13) / (2 * count - 2)) * 2;
  return [6, ...Array.from({ length: count - 1 }, (_, i) => size - 7 - (count - 2 - i) * interval)];
}

function drawAlignments(version: number, set: Draw): void {
  const coordinates = alignmentCoordinates(version);
  const last = coordinates.length - 1;
  coordinates.forEach((row, i) =>
    coordinates.forEach((column, j) => {
      // None where a finder pattern is.
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;
      for (let r = -2; r <= 2; r += 1) {
        for (let c = -2; c <= 2; c += 1) set(row + r, column + c, Math.max(Math.abs(r), Math.abs(c)) !== 1);
      }
    }),
  );
}

/** A BCH code word: `data` followed by the remainder of its division by `generator`. */
function bch(data: number, generator: number, checkBits: number): number {
  let remainder = data << checkBits;
  const top = 31 - Math.clz32(generator);
  while (31 - Math.clz32(remainder) >= top) remainder ^= generator << (31 - Math.clz32(remainder) - top);
  return (data << checkBits) | remainder;
}

function drawVersionInformation(version: number, size: number, set: Draw): void {
  const bits = bch(version, 0x1f25, 12);
  for (let i = 0; i < 18; i += 1) {
    const row = Math.floor(i / 3);
    const column = (i % 3) + size - 11;
    const dark = (bits >> i) & 1;
    set(row, column, dark);
    set(column, row, dark);
  }
}

function drawFormatInformation(size: number, set: Draw): void {
  const bits = bch(FORMAT_DATA, 0x537, 10) ^ 0x5412;
  for (let i = 0; i < 15; i += 1) {
    const dark = (bits >> i) & 1;
    set(i < 6 ? i : i < 8 ? i + 1 : size - 15 + i, 8, dark);
    set(8, i < 8 ? size - i - 1 : i < 9 ? 15 - i : 14 - i, dark);
  }
  // The dark module beside the bottom-left finder.
  set(size - 8, 8, 1);
}
