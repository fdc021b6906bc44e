import type { ConfigInput } from './schema.js';

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
 * What `npm start` runs without BROKER_CONFIG: one process, the in-memory store, every
 * built-in eID on its simulator, the demo relying party at /demo and the clients of the
 * examples. For trying the broker out, never for production.
 */
export function embeddedConfig(simulatedEids: Record<string, unknown>): ConfigInput {
  return {
    port: Number(process.env.PORT ?? 3000),
    demo: true,
    eids: simulatedEids,
    clients: exampleClients,
  };
}
