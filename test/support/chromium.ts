import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { expect } from 'vitest';
import decodeQR from 'qr/decode.js';
import { projectRoot } from '../../src/paths.js';

/** Debian's chromium; .ci/run installs it. A machine without it fails these tests, it never skips them. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots of every page go; CI keeps the folder. */
export const screenshotDir = join(projectRoot, 'test-results', 'screenshots');

export const viewports = {
  phone: { width: 360, height: 780 },
  desktop: { width: 1280, height: 860 },
} as const;

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags chromium keeps calling out to a network this machine does not have.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A fresh browser in `browser` for `use`, closed afterwards whatever happens. */
export async function inNewContext(browser: Browser, use: (page: Page) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  try {
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

/** A phone-sized browser; `userAgent` makes it say it is a phone too, for pages that choose by it. */
export async function newPhone(browser: Browser, locale = 'en-GB', options: BrowserContextOptions = {}): Promise<BrowserContext> {
  return browser.newContext({ viewport: viewports.phone, locale, isMobile: true, hasTouch: true, ...options });
}

const axeSource = (createRequire(import.meta.url)('axe-core') as { source: string }).source;

/**
 * axe-core's accessibility rules (WCAG 2.0 to 2.2, A and AA: a button too small to tap too) on the page as it is now: none may fail.
 * axe is evaluated through the DevTools protocol, which the page's CSP does not apply to.
 */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(options: object): Promise<{ violations: Array<{ id: string; help: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
    const result = await axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } });
    return result.violations.map((v) => `${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
  });
  expect(violations, `axe-core on ${name}`).toEqual([]);
}

/** Screenshots of the page at phone and desktop widths, named after it. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  const original = page.viewportSize();
  for (const [width, size] of Object.entries(viewports)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(screenshotDir, `${name}-${width}.png`), fullPage: true });
  }
  if (original) await page.setViewportSize(original);
}

/** A phone's browser as the eIDs' launch rules see it: a phone's user agent. */
export const PHONE_USER_AGENT = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

/**
 * Runs in the page: the QR canvas (one pixel per module) copied three times larger, as a camera
 * would see it, and its pixels in base64. A string, since the tests are not compiled for the DOM.
 */
const READ_QR_CANVAS = `(() => {
  const canvas = document.getElementById('qr');
  const large = document.createElement('canvas');
  large.width = canvas.width * 3;
  large.height = canvas.height * 3;
  const context = large.getContext('2d');
  context.imageSmoothingEnabled = false;
  context.drawImage(canvas, 0, 0, large.width, large.height);
  const { data, width, height } = context.getImageData(0, 0, large.width, large.height);
  let bytes = '';
  for (const byte of data) bytes += String.fromCharCode(byte);
  return { data: btoa(bytes), width, height };
})()`;

/** What the QR code the page drew says, read from its canvas. */
export async function drawnQrCode(page: Page): Promise<string> {
  const image = (await page.evaluate(READ_QR_CANVAS)) as { data: string; width: number; height: number };
  return decodeQR({ ...image, data: new Uint8ClampedArray(Buffer.from(image.data, 'base64')) });
}
