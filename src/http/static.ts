import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';
import { viewsDir } from '../paths.js';

const types: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Browser modules of libraries the pages import, served from the broker's own origin so the CSP
 * stays script-src 'self': lean-qr draws the BankID QR code from the text each frame carries.
 */
const libraries: Record<string, string> = {
  '/static/lean-qr.mjs': fileURLToPath(import.meta.resolve('lean-qr')),
};

/**
 * Serves views/static/ at /static/, the libraries above, and the operator's stylesheet
 * (ui.overrides.css) at /static/overrides.css. The handful of files is read once at start-up,
 * so no request can reach the file system or walk out of the folder.
 */
export function staticFiles(operatorCss: string): Middleware {
  const dir = join(viewsDir, 'static');
  const files = new Map(
    readdirSync(dir)
      .filter((name) => types[extname(name)])
      .map((name) => [`/static/${name}`, { body: readFileSync(join(dir, name)), type: types[extname(name)]! }]),
  );
  for (const [path, file] of Object.entries(libraries)) files.set(path, { body: readFileSync(file), type: types[extname(file)]! });
  if (operatorCss) files.set('/static/overrides.css', { body: Buffer.from(operatorCss), type: types['.css']! });
  return async (ctx, next) => {
    const file = ctx.method === 'GET' || ctx.method === 'HEAD' ? files.get(ctx.path) : undefined;
    if (!file) return next();
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  };
}
