import type { ConfigInput } from './schema.js';

/**
 * What `npm start` runs without BROKER_CONFIG: one process, the in-memory store, every
 * built-in eID on its simulator, and the demo relying party at /demo. For trying the broker
 * out, never for production.
 */
export function embeddedConfig(simulatedEids: Record<string, unknown>): ConfigInput {
  return {
    port: Number(process.env.PORT ?? 3000),
    demo: true,
    eids: simulatedEids,
  };
}
