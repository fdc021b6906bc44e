import { existsSync, readFileSync, readdirSync } from 'node:fs';
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

/** The files of `dir` the broker serves (by their type), at `<prefix><name>`. */
function filesOf(dir: string, prefix: string): Array<[string, { body: Buffer; type: string }]> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => types[extname(name)])
    .map((name) => [`${prefix}${name}`, { body: readFileSync(join(dir, name)), type: types[extname(name)]! }]);
}

/**
 * Serves views/static/ at /static/, each eID plugin's static/ at /static/<id>/ (`plugins`: id →
 * the plugin's folder), the libraries above, and the operator's stylesheet (ui.overrides.css) at
 * /static/overrides.css. The handful of files is read once at start-up, so no request can reach
 * the file system or walk out of the folder.
 */
export function staticFiles(operatorCss: string, plugins: Record<string, string> = {}): Middleware {
  const files = new Map([
    ...filesOf(join(viewsDir, 'static'), '/static/'),
    ...Object.entries(plugins).flatMap(([id, folder]) => filesOf(join(folder, 'static'), `/static/${id}/`)),
  ]);
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
