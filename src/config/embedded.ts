import { randomBytes } from 'node:crypto';
import { ConfigError } from './load.js';
import type { ConfigInput } from './schema.js';

const DEFAULT_PORT = 3000;

/**
 * The relying parties of docs/examples, each on its own loopback port, so that every example
 * runs against `npm start` as it is. Their secrets are public: they are for trying out only.
 */
const exampleClients = [
  {
    client_id: 'example-express',
    client_secret: 'example-express-secret-for-trying-out-only',
    redirect_uris: ['http://127.0.0.1:3001/callback'],
    post_logout_redirect_uris: ['http://127.0.0.1:3001/'],
    display_name: 'Example: Express',
  },
  {
    client_id: 'example-python',
    client_secret: 'example-python-secret-for-trying-out-only',
    redirect_uris: ['http://127.0.0.1:3002/callback'],
    post_logout_redirect_uris: ['http://127.0.0.1:3002/logged-out'],
    display_name: 'Example: Python',
  },
  {
    client_id: 'example-spa',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1:3003/'],
    post_logout_redirect_uris: ['http://127.0.0.1:3003/logged-out'],
    refresh_tokens_without_consent: true,
    display_name: 'Example: single-page app',
  },
] satisfies ConfigInput['clients'];

/**
 * The admin API's token in the embedded default: BROKER_ADMIN_TOKEN when it is set (so the shell
 * that ran the CLI against an earlier run keeps working), else one made for this run.
 */
export function developmentAdminToken(): string {
  const given = process.env.BROKER_ADMIN_TOKEN;
  return given && given.length >= 32 ? given : randomBytes(24).toString('base64url');
}

/**
 * PORT, when set: a port people can open the embedded default on. Number() would make "" and "0"
 * port 0 (some free port, while the issuer and the printed URLs say :0) and " 80" port 80.
 */
function portFromEnvironment(value = process.env.PORT): number {
  if (value === undefined) return DEFAULT_PORT;
  const port = /^[0-9]{1,5}$/.test(value) ? Number(value) : 0;
  if (port < 1 || port > 65_535) throw new ConfigError(`PORT: must be a port number from 1 to 65535, not "${value}"`);
  return port;
}

/**
 * What `npm start` runs without BROKER_CONFIG: one process, the in-memory store, every
 * built-in eID on its simulator, the demo relying party at /demo, the clients of the examples,
 * and the admin API with `adminToken` (the start-up lines print it). For trying the broker
 * out, never for production.
 */
export function embeddedConfig(simulatedEids: Record<string, unknown>, adminToken: string): ConfigInput {
  return {
    port: portFromEnvironment(),
    demo: true,
    eids: simulatedEids,
    clients: exampleClients,
    admin: { token: adminToken },
  };
}
