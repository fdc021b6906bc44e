import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';
import { viewsDir } from '../paths.js';
import { isRead } from './errors.js';

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
function filesOf(dir: string, prefix: string): Array<[string, StaticFile]> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => types[extname(name)])
    .map((name) => [`${prefix}${name}`, { body: readFileSync(join(dir, name)), type: types[extname(name)]! }]);
}

/** A file the broker serves: its bytes and Content-Type. */
export interface StaticFile {
  body: Buffer;
  type: string;
}

/**
 * The files the broker serves, by path: views/static/ at /static/, each eID plugin's static/ at
 * /static/<id>/ (`plugins`: id → the plugin's folder), the kits plugins share at
 * /static/kit/<name>/ (`kits`: name → its folder of files), the libraries above, and the
 * operator's stylesheet (ui.overrides.css) at /static/overrides.css. The handful of files is read
 * once at start-up, so no request can reach the file system or walk out of the folder.
 */
export function staticFileTable(operatorCss: string, plugins: Record<string, string> = {}, kits: Record<string, string> = {}): ReadonlyMap<string, StaticFile> {
  const files = new Map([
    ...filesOf(join(viewsDir, 'static'), '/static/'),
    ...Object.entries(plugins).flatMap(([id, folder]) => filesOf(join(folder, 'static'), `/static/${id}/`)),
    ...Object.entries(kits).flatMap(([name, folder]) => filesOf(folder, `/static/kit/${name}/`)),
  ]);
  for (const [path, file] of Object.entries(libraries)) files.set(path, { body: readFileSync(file), type: types[extname(file)]! });
  if (operatorCss) files.set('/static/overrides.css', { body: Buffer.from(operatorCss), type: types['.css']! });
  return files;
}

/** Serves the files of staticFileTable to GET and HEAD. */
export function staticFiles(files: ReadonlyMap<string, StaticFile>): Middleware {
  return (ctx, next) => {
    const file = isRead(ctx.method) ? files.get(ctx.path) : undefined;
    if (!file) return next();
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  };
}

/**
 * The static kits the plugins declare (`EidPlugin.staticKits`), by name. Two plugins may share one
 * kit; two folders under one name would serve one plugin the other's files, so that is refused.
 */
export function staticKitsOf(plugins: ReadonlyArray<{ id: string; staticKits?: Readonly<Record<string, string>> }>): Record<string, string> {
  const kits: Record<string, string> = {};
  for (const plugin of plugins) {
    for (const [name, folder] of Object.entries(plugin.staticKits ?? {})) {
      if (kits[name] !== undefined && kits[name] !== folder) throw new Error(`${plugin.id}: static kit ${name} is already served from ${kits[name]}`);
      kits[name] = folder;
    }
  }
  return kits;
}
