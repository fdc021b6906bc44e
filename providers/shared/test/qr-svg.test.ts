import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { qrSvg } from '../qr-svg.js';

/** The most bytes each version holds in one byte segment at level L (ISO/IEC 18004, table 7). */
const BYTE_CAPACITY_L = [
  17, 32, 53, 78, 106, 134, 154, 192, 230, 271, 321, 367, 425, 458, 520, 586, 644, 718, 792, 858, 929, 1003, 1091, 1171, 1273, 1367, 1465, 1528, 1628, 1732,
  1840, 1952, 2068, 2188, 2303, 2431, 2563, 2699, 2809, 2953,
];

/** A payload of printable ASCII that differs from length to length. */
const payloadOf = (length: number): string => Array.from({ length }, (_, i) => String.fromCharCode(33 + ((i * 7919 + length) % 94))).join('');

/**
 * What the qrcode library draws for the renderer's choices (one byte segment, level L, mask 2,
 * margin 2), its attributes quoted with apostrophes and without its closing newline, as the
 * renderer writes them so the image needs no escaping in JSON: otherwise byte for byte.
 */
const drawnByQrcode = async (payload: string): Promise<string> =>
  (await QRCode.toString([{ data: Buffer.from(payload), mode: 'byte' }], { type: 'svg', errorCorrectionLevel: 'L', margin: 2, maskPattern: 2 })).replaceAll('"', "'").replace(/\n$/, '');

/** Modules per side of the drawn image, margins included. */
const sideOf = (svg: string): number => Number(/viewBox='0 0 (\d+) /.exec(svg)![1]);

describe('the QR code as an SVG image', () => {
  it.each(BYTE_CAPACITY_L.map((capacity, i) => [i + 1, capacity] as const))(
    'of version %i, filled (%i bytes) and with a byte more, is the image qrcode draws, byte for byte',
    async (version, capacity) => {
      for (const length of [capacity, capacity + 1].filter((n) => n <= 2953)) {
        const payload = payloadOf(length);
        const svg = qrSvg(payload);
        expect(svg).toBe(await drawnByQrcode(payload));
        expect(sideOf(svg)).toBe(4 * (length > capacity ? version + 1 : version) + 17 + 4);
      }
    },
  );

  it.each(['', 'a', 'frejaeid://bindUserToTransaction?transactionReference=ÅÄÖ-åäö', payloadOf(110), payloadOf(113)])('of %j is the image qrcode draws', async (payload) => {
    expect(qrSvg(payload)).toBe(await drawnByQrcode(payload));
  });

  it('is the content of its own JSON string, with nothing to escape', () => {
    const svg = qrSvg(payloadOf(113));
    expect(JSON.stringify(svg)).toBe(`"${svg}"`);
  });

  it('refuses a payload no version holds', () => {
    expect(() => qrSvg(payloadOf(2954))).toThrow(RangeError);
  });
});
