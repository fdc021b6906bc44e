import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GridTicker, projectRoot } from '../../../src/eids/sdk.js';
import { normalizeName } from '../completion.js';
import { isMobile } from '../../shared/app-page.js';
import { CollectBatches } from '../collect-batches.js';
import { launchUrl } from '../launch.js';
import { qrSvg } from '../../shared/qr-svg.js';
import { qrPayload, QrCodes } from '../qr.js';

describe('the animated QR code', () => {
  // BankID's published test vectors.
  const token = '67df3917-fa0d-44e5-b327-edcc928297f8';
  const secret = 'd28db9a7-4cde-429e-a983-359be676944c';

  it.each([
    [0, 'dc69358e712458a66a7525beef148ae8526b1c71610eff2c16cdffb4cdac9bf8'],
    [1, '949d559bf23403952a94d103e67743126381eda00f0b3cbddbf7c96b1adcbce2'],
    [2, 'a9e5ec59cb4eee4ef4117150abc58fad7a85439a6a96ccbecc3668b41795b3f3'],
  ])('second %i', (seconds, authCode) => {
    expect(qrPayload(token, secret, seconds)).toBe(`bankid.${token}.${seconds}.${authCode}`);
  });

  it('counts whole seconds', () => {
    expect(qrPayload(token, secret, 1.9)).toBe(qrPayload(token, secret, 1));
  });

  it.each([0, 7, 42, 999, 1800])('at second %i is the image qrcode draws, byte for byte but for its quotes and closing newline', async (seconds) => {
    const { default: QRCode } = await import('qrcode');
    const payload = qrPayload(token, secret, seconds);
    const drawn = await QRCode.toString([{ data: Buffer.from(payload), mode: 'byte' }], { type: 'svg', errorCorrectionLevel: 'L', margin: 2, maskPattern: 2 });
    expect(qrSvg(payload)).toBe(drawn.replaceAll('"', "'").replace(/\n$/, ''));
  });

  it('is drawn as an SVG without inline style or script', () => {
    const svg = qrSvg(qrPayload(token, secret, 0));
    expect(svg).toMatch(/^<svg /);
    expect(svg).not.toMatch(/style=|<script/);
  });

  it("of an order is made once a second: every poll within the second gets that second's code", () => {
    const codes = new QrCodes();
    const orderedAt = 1_000_000;
    const order = { orderRef: 'order-1', orderedAt, qrStartToken: token, qrStartSecret: secret };
    const first = codes.of(order, orderedAt + 2_100);
    expect(first).toEqual({ payload: qrPayload(token, secret, 2), svg: qrSvg(qrPayload(token, secret, 2)) });
    expect(codes.of(order, orderedAt + 2_900)).toBe(first);
    expect(codes.of(order, orderedAt + 3_000).payload).toBe(qrPayload(token, secret, 3));
    // Another order of the same second has its own code.
    expect(codes.of({ ...order, orderRef: 'order-2', orderedAt: orderedAt + 1_000 }, orderedAt + 3_000).payload).toBe(qrPayload(token, secret, 2));
    // A poll a little before the order's time (another instance's clock) gets second 0.
    expect(codes.of({ ...order, orderRef: 'order-3' }, orderedAt - 300).payload).toBe(qrPayload(token, secret, 0));
  });

  it('are let go two seconds after the last code was asked for, when no page asks for another', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const codes = new QrCodes();
      const order = { orderRef: 'order-1', orderedAt: 1_000_000, qrStartToken: token, qrStartSecret: secret };
      const first = codes.of(order, 1_002_100);
      vi.advanceTimersByTime(1_900);
      expect(codes.of(order, 1_002_100)).toBe(first);
      vi.advanceTimersByTime(100);
      const again = codes.of(order, 1_002_100);
      expect(again).not.toBe(first);
      expect(again).toEqual(first);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('the tick of the waiting orders', () => {
  afterEach(() => vi.useRealTimers());

  it('falls a millisecond past each multiple of its period on the wall clock, whenever it started', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 1_000_010 });
    const ticks: number[] = [];
    const ticker = new GridTicker(25, () => ticks.push(Date.now()));
    ticker.start();
    ticker.start();
    vi.advanceTimersByTime(100);
    expect(ticks).toEqual([1_000_026, 1_000_051, 1_000_076, 1_000_101]);
    ticker.stop();
    vi.advanceTimersByTime(100);
    expect(ticks).toHaveLength(4);
  });

  it('ticks no more once stopped by its own tick', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 });
    let ticks = 0;
    const ticker = new GridTicker(25, () => {
      ticks += 1;
      ticker.stop();
    });
    ticker.start();
    vi.advanceTimersByTime(200);
    expect(ticks).toBe(1);
  });
});

describe('the batches collects are started in', () => {
  it('holds collects back until a batch is due, then starts the longest waiting first', () => {
    const batches = new CollectBatches<string>(3, 100);
    batches.add('a', 1000);
    batches.add('b', 1025);
    expect(batches.take(1025, 64)).toEqual([]);
    batches.add('c', 1050);
    batches.add('a', 1050);
    expect(batches.take(1050, 64)).toEqual(['a', 'b', 'c']);
    expect(batches.take(1050, 64)).toEqual([]);
  });

  it('starts fewer than a batch once the oldest has waited long enough', () => {
    const batches = new CollectBatches<string>(3, 100);
    batches.add('a', 1000);
    batches.add('b', 1075);
    expect(batches.take(1075, 64)).toEqual([]);
    expect(batches.take(1100, 64)).toEqual(['a', 'b']);
  });

  it('starts no more than there is room for, and keeps the rest in their place', () => {
    const batches = new CollectBatches<string>(2, 100);
    for (const item of ['a', 'b', 'c', 'd']) batches.add(item, 1000);
    batches.delete('b');
    expect(batches.take(1000, 0)).toEqual([]);
    expect(batches.take(1000, 2)).toEqual(['a', 'c']);
    batches.add('e', 1025);
    expect(batches.take(1025, 64)).toEqual(['d', 'e']);
  });
});

describe('names in capitals', () => {
  it.each([
    ['KARL-JOHAN', 'Karl-Johan'],
    ['ÅSTRÖM', 'Åström'],
    ['ANNA MARIA', 'Anna Maria'],
    ["O'NEILL", "O'Neill"],
    ['McAllister', 'McAllister'],
    ['von Essen', 'von Essen'],
  ])('%s → %s', (sent, shown) => {
    expect(normalizeName(sent)).toBe(shown);
  });
});

describe('the launch link', () => {
  const iphone = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)';
  const android = 'Mozilla/5.0 (Linux; Android 15; Pixel 9)';
  const desktop = 'Mozilla/5.0 (X11; Linux x86_64)';

  it('opens app.bankid.com on phones and the bankid: scheme on computers', () => {
    expect(isMobile(iphone) && isMobile(android) && !isMobile(desktop)).toBe(true);
    expect(launchUrl('t-1', iphone)).toBe('https://app.bankid.com/?autostarttoken=t-1&redirect=null');
    expect(launchUrl('t-1', android)).toBe('https://app.bankid.com/?autostarttoken=t-1&redirect=null');
    expect(launchUrl('t-1', desktop)).toBe('bankid:///?autostarttoken=t-1&redirect=null');
  });

  it('opens the simulated app in simulator mode', () => {
    expect(launchUrl('t-1', desktop, 'http://127.0.0.1:4000/app')).toBe('http://127.0.0.1:4000/app?autostarttoken=t-1');
  });
});

describe("BankID's root certificates shipped for production and test", () => {
  it.each([
    ['production-root.pem', 'E6:A2:D4:5C:0A:10:51:C9:59:42:86:49:F8:6A:09:A9:B2:15:2C:D5:51:99:3C:C2:EB:4C:F0:94:BD:AC:BE:CB', 'BankID SSL Root CA v1'],
    ['test-root.pem', 'F3:D0:74:0E:BF:B3:70:0E:3B:81:AA:79:1F:EE:45:14:72:69:8C:84:E1:99:C2:EB:48:A4:43:FF:1D:5B:40:5C', 'Test BankID SSL Root CA v1 Test'],
  ])('%s has the published SHA-256 fingerprint', (file, fingerprint, commonName) => {
    const certificate = new X509Certificate(readFileSync(join(projectRoot, 'providers/se-bankid/certs', file)));
    expect(certificate.fingerprint256).toBe(fingerprint);
    expect(certificate.subject).toContain(`CN=${commonName}`);
  });
});
