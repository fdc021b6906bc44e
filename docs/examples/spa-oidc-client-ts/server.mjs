#!/usr/bin/env node
// Serves the single-page app and oidc-client-ts's ESM build on a loopback port.
//
//   npm start                                        # the broker, in another terminal
//   node docs/examples/spa-oidc-client-ts/server.mjs
//   # open http://127.0.0.1:3003/
//
// The defaults match the client `example-spa` that `npm start` registers (a public client with
// refresh_tokens_without_consent); ISSUER, CLIENT_ID and PORT override them.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const issuer = process.env.ISSUER ?? 'http://localhost:3000';
const clientId = process.env.CLIENT_ID ?? 'example-spa';
const port = Number(process.env.PORT ?? 3003);

const here = (name) => new URL(name, import.meta.url);
const oidcClientTs = new URL(import.meta.resolve('oidc-client-ts'));
const jwtDecode = new URL(import.meta.resolve('jwt-decode'));

/** Each file the page loads. The browser knows no bare module names, so oidc-client-ts's import of jwt-decode points to our copy. */
const files = {
  '/': { type: 'text/html', read: () => readFile(here('index.html'), 'utf8') },
  '/logged-out': { type: 'text/html', read: () => readFile(here('index.html'), 'utf8') },
  '/app.mjs': { type: 'text/javascript', read: () => readFile(here('app.mjs'), 'utf8') },
  '/settings.json': { type: 'application/json', read: async () => JSON.stringify({ issuer, client_id: clientId }) },
  '/vendor/oidc-client-ts.js': {
    type: 'text/javascript',
    read: async () => (await readFile(fileURLToPath(oidcClientTs), 'utf8')).replace(/from\s*"jwt-decode"/g, 'from "/vendor/jwt-decode.js"'),
  },
  '/vendor/jwt-decode.js': { type: 'text/javascript', read: () => readFile(fileURLToPath(jwtDecode), 'utf8') },
};

const server = createServer(async (request, response) => {
  const file = files[new URL(request.url ?? '/', 'http://app').pathname];
  if (!file) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  response.writeHead(200, {
    'content-type': `${file.type}; charset=utf-8`,
    // The page runs only its own scripts, and talks only to itself and the broker. Without a
    // refresh token, signinSilent loads the broker in a hidden iframe, whose answer redirects it
    // back to this page: both are framed (frame-src), by this page alone (frame-ancestors 'self').
    'content-security-policy': `default-src 'self'; connect-src 'self' ${new URL(issuer).origin}; frame-src 'self' ${new URL(issuer).origin}; frame-ancestors 'self'`,
    'referrer-policy': 'no-referrer',
  });
  response.end(await file.read());
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`single-page app at http://127.0.0.1:${port}/ (broker ${issuer})\n`);
});
